"""labeling.media: safe image loading, content-addressed storage, thumbnails, zip checks."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labeling.media import (
    ImageInfo,
    MediaError,
    ZipSafetyError,
    load_image,
    make_thumbnail,
    media_path,
    media_url,
    parse_media_url,
    public_url,
    safe_zip_members,
    sniff_image_format,
    store_media,
    thumbnail_for,
    thumbnail_path,
    thumbnail_url,
)

MIMES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
}


def encode(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **options)
    return buf.getvalue()


def two_colour(width: int = 40, height: int = 20) -> Image.Image:
    """Left half red, right half blue."""
    im = Image.new("RGB", (width, height), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, width // 2, height))
    return im


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def png_header_only(width: int, height: int) -> bytes:
    """A PNG claiming width x height pixels (1-bit grey) with almost no data: a cheap bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- load_image


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF"])
def test_load_image_accepts_each_format(fmt):
    data = encode(two_colour(), fmt)
    im, info = load_image(data, name=f"a.{fmt.lower()}")
    assert info == ImageInfo(
        sha256=hashlib.sha256(data).hexdigest(),
        format=fmt,
        mime=MIMES[fmt],
        width=40,
        height=20,
        size=len(data),
    )
    assert im.size == (40, 20)
    red = im.convert("RGB").getpixel((5, 10))
    assert red[0] > 200 and red[2] < 60
    im.close()


def test_extension_follows_format():
    exts = {}
    for fmt in MIMES:
        _, info = load_image(encode(two_colour(), fmt), name="x")
        exts[fmt] = info.ext
    assert exts == {
        "PNG": "png",
        "JPEG": "jpg",
        "GIF": "gif",
        "BMP": "bmp",
        "WEBP": "webp",
        "TIFF": "tiff",
    }


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    data = encode(two_colour(40, 20), "JPEG", exif=exif.tobytes(), quality=95)
    im, info = load_image(data, name="phone.jpg")
    assert (info.width, info.height) == (20, 40)
    assert im.size == (20, 40)
    top, bottom = im.getpixel((10, 5)), im.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60  # the red left half is now on top
    assert bottom[2] > 200 and bottom[0] < 60
    im.close()


def test_truncated_png_is_refused():
    data = encode(Image.effect_noise((64, 64), 40).convert("RGB"), "PNG")
    with pytest.raises(MediaError, match=r"^cut\.png: truncated or corrupt image"):
        load_image(data[: len(data) // 2], name="cut.png")


def test_corrupt_png_crc_is_refused():
    data = bytearray(encode(two_colour(), "PNG"))
    idat = data.find(b"IDAT")
    data[idat + 10] ^= 0xFF  # flip a byte of compressed data: the chunk CRC no longer matches
    with pytest.raises(MediaError, match=r"^bad\.png: truncated or corrupt image"):
        load_image(bytes(data), name="bad.png")


def test_truncated_jpeg_is_refused():
    data = encode(Image.effect_noise((128, 128), 60).convert("RGB"), "JPEG")
    with pytest.raises(MediaError, match=r"^cut\.jpg: truncated or corrupt image .*truncated"):
        load_image(data[: len(data) // 2], name="cut.jpg")


def test_text_file_renamed_png_is_not_an_image():
    with pytest.raises(MediaError, match=r"^notes\.png: not an image \(accepted formats: PNG"):
        load_image(b"just some notes\nsecond line\n", name="notes.png")


def test_svg_is_refused_by_name_and_by_content():
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
    with pytest.raises(MediaError, match=r"^logo\.svg: SVG is not accepted"):
        load_image(svg, name="logo.svg")
    with pytest.raises(MediaError, match=r"^logo\.png: SVG is not accepted"):
        load_image(b"<svg xmlns='http://www.w3.org/2000/svg'/>", name="logo.png")


def test_other_known_formats_are_named():
    with pytest.raises(MediaError, match=r"^doc\.pdf: PDF is not accepted"):
        load_image(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", name="doc.pdf")
    ico = encode(Image.new("RGB", (16, 16)), "ICO")
    with pytest.raises(MediaError, match=r"^fav\.ico: ICO is not accepted"):
        load_image(ico, name="fav.ico")


def test_empty_file_is_refused():
    with pytest.raises(MediaError, match=r"^e\.png: file is empty$"):
        load_image(b"", name="e.png")


def test_decompression_bomb_is_refused_before_decoding():
    data = png_header_only(30000, 30000)
    assert len(data) < 200
    with pytest.raises(MediaError) as excinfo:
        load_image(data, name="bomb.png")
    assert str(excinfo.value) == (
        "bomb.png: image of 30000x30000 pixels exceeds the limit of 50000000 pixels"
    )
    assert excinfo.value.status == 422


def test_max_pixels_argument():
    data = encode(Image.new("L", (100, 100)), "PNG")
    with pytest.raises(
        MediaError, match=r"image of 100x100 pixels exceeds the limit of 9999 pixels"
    ):
        load_image(data, name="a.png", max_pixels=9_999)
    _, info = load_image(data, name="a.png", max_pixels=10_000)
    assert (info.width, info.height) == (100, 100)


def test_pillow_global_limit_is_respected(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    data = encode(Image.new("L", (100, 100)), "PNG")
    with pytest.raises(MediaError, match=r"exceeds the limit of 1000 pixels"):
        load_image(data, name="a.png")


def test_sniff_image_format():
    assert sniff_image_format(encode(two_colour(), "PNG")[:16]) == "PNG"
    assert sniff_image_format(encode(two_colour(), "JPEG")[:16]) == "JPEG"
    assert sniff_image_format(encode(two_colour(), "WEBP")[:16]) == "WEBP"
    assert sniff_image_format(b"hello world, not an image") is None


# --------------------------------------------------------------------------- storage


def test_store_media_content_addressed_and_idempotent(tmp_path):
    data = encode(two_colour(), "PNG")
    sha = hashlib.sha256(data).hexdigest()
    info = store_media(data, media_root=tmp_path, name="a.png")
    path = tmp_path / sha[:2] / sha[2:4] / f"{sha}.png"
    assert info.sha256 == sha
    assert media_path(tmp_path, sha, "png") == path
    assert path.read_bytes() == data
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    before = path.stat().st_mtime_ns
    os.utime(path, ns=(before - 10**9, before - 10**9))
    assert store_media(data, media_root=tmp_path, name="again.png") == info
    assert path.stat().st_mtime_ns == before - 10**9  # not rewritten
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp files left


def test_store_media_rewrites_a_damaged_file(tmp_path):
    data = encode(two_colour(), "JPEG")
    info = store_media(data, media_root=tmp_path, name="a.jpg")
    path = media_path(tmp_path, info.sha256, "jpg")
    path.write_bytes(data[:10])
    store_media(data, media_root=tmp_path, name="a.jpg")
    assert path.read_bytes() == data


def test_store_media_refused_image_writes_nothing(tmp_path):
    with pytest.raises(MediaError, match="not an image"):
        store_media(b"plain text", media_root=tmp_path, name="x.png")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("sha", "ext", "message"),
    [
        ("../" + "a" * 61, "png", "not a sha256 digest"),
        ("A" * 64, "png", "not a sha256 digest"),
        ("a" * 64, "png/../../x", "unknown media extension"),
        ("a" * 64, "svg", "unknown media extension"),
    ],
)
def test_media_path_rejects_unsafe_parts(tmp_path, sha, ext, message):
    with pytest.raises(MediaError, match=message):
        media_path(tmp_path, sha, ext)


# --------------------------------------------------------------------------- URLs


def test_media_urls_are_made_and_read_in_one_place(tmp_path):
    sha = "ab" * 32
    url = media_url(7, sha, "png")
    assert url == f"/media/7/{sha}.png"
    assert parse_media_url(url) == (7, sha, "png")
    assert thumbnail_url(7, sha) == thumbnail_for(url) == f"/media/7/thumbs/{sha}.jpg"
    assert public_url(7, f"{sha}.png") == url
    assert public_url(7, f"{sha}.png", "https://labels.example.com/") == f"https://labels.example.com{url}"
    for other in ("https://example.com/a.png", f"/media/7/{sha}", f"/media/x/{sha}.png", f"/media/7/{sha[:-1]}.png",
                  f"/media/7/thumbs/{sha}.jpg", None, 3):
        assert parse_media_url(other) is None and thumbnail_for(other) is None
    assert thumbnail_path(tmp_path, sha) == tmp_path / "thumbs" / "ab" / f"{sha}.jpg"
    with pytest.raises(MediaError):
        thumbnail_path(tmp_path, "../x")


# --------------------------------------------------------------------------- thumbnails


def test_thumbnail_jpeg_flattens_alpha(tmp_path):
    im = Image.new("RGBA", (600, 300), (0, 0, 0, 0))
    im.paste((0, 128, 0, 255), (0, 0, 300, 300))
    src = tmp_path / "src.png"
    src.write_bytes(encode(im, "PNG"))
    dst = tmp_path / "thumbs" / "t.jpg"
    assert make_thumbnail(src, dst) == (256, 128)
    with Image.open(dst) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == (256, 128)
        left, right = thumb.getpixel((10, 64)), thumb.getpixel((250, 64))
    assert left[1] > 100 and left[0] < 40  # green
    assert min(right) > 240  # transparent -> white


def test_thumbnail_webp_keeps_alpha_and_orientation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    src = tmp_path / "phone.jpg"
    src.write_bytes(encode(two_colour(400, 200), "JPEG", exif=exif.tobytes()))
    assert make_thumbnail(src, tmp_path / "t.webp", size=100) == (50, 100)
    rgba = tmp_path / "a.png"
    rgba.write_bytes(encode(Image.new("RGBA", (50, 50), (255, 0, 0, 0)), "PNG"))
    make_thumbnail(rgba, tmp_path / "a.webp", size=20)
    with Image.open(tmp_path / "a.webp") as thumb:
        assert thumb.format == "WEBP"
        assert thumb.mode == "RGBA"
        assert thumb.size == (20, 20)


def test_thumbnail_of_16_bit_tiff(tmp_path):
    arr = np.tile(np.arange(0, 64000, 1000, dtype=np.uint16), (32, 1))  # 64 x 32 ramp
    src = tmp_path / "scan.tiff"
    Image.fromarray(arr, mode="I;16").save(src, format="TIFF")
    assert make_thumbnail(src, tmp_path / "scan.jpg", size=32) == (32, 16)
    with Image.open(tmp_path / "scan.jpg") as thumb:
        dark, light = thumb.getpixel((0, 8)), thumb.getpixel((31, 8))
    assert dark[0] < 30 and light[0] > 220


def test_thumbnail_refuses_other_suffix_and_leaves_no_file(tmp_path):
    src = tmp_path / "a.png"
    src.write_bytes(encode(two_colour(), "PNG"))
    with pytest.raises(MediaError, match=r"t\.png: thumbnails are written as \.jpg or \.webp"):
        make_thumbnail(src, tmp_path / "t.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


# --------------------------------------------------------------------------- zip checks


def make_zip(entries: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> zipfile.ZipFile:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return zipfile.ZipFile(io.BytesIO(buf.getvalue()))


LIMITS = {"max_total_bytes": 10 << 20, "max_files": 100}


def test_safe_members_skip_directories_macosx_and_dotfiles():
    zf = make_zip(
        {
            "photos/": b"",
            "photos/a.png": b"a",
            "photos/.DS_Store": b"x",
            "__MACOSX/photos/._a.png": b"x",
            ".git/config": b"x",
            "photos/Thumbs.db": b"x",
            "./b.txt": b"b",
        }
    )
    assert [i.filename for i in safe_zip_members(zf, **LIMITS)] == ["photos/a.png", "./b.txt"]


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("../evil.txt", r"member '\.\./evil\.txt' has an unsafe path \('\.\.' component\)"),
        ("ok/../../evil.txt", r"member 'ok/\.\./\.\./evil\.txt' has an unsafe path"),
        ("..\\evil.txt", r"member '\.\.\\evil\.txt' has an unsafe path"),
        ("/etc/passwd", r"member '/etc/passwd' has an absolute path"),
        ("\\windows\\evil.txt", r"member '\\windows\\evil\.txt' has an absolute path"),
        ("C:/evil.txt", r"member 'C:/evil\.txt' has a drive letter"),
    ],
)
def test_unsafe_paths_refuse_the_archive(member, message):
    zf = make_zip({"fine.txt": b"ok", member: b"evil"})
    with pytest.raises(ZipSafetyError, match=r"^up\.zip: " + message) as excinfo:
        safe_zip_members(zf, name="up.zip", **LIMITS)
    assert excinfo.value.reason == "path"
    assert excinfo.value.member == member


def test_unsafe_path_inside_a_skipped_folder_still_refuses():
    zf = make_zip({"__MACOSX/../../evil.txt": b"x"})
    with pytest.raises(ZipSafetyError, match="unsafe path"):
        safe_zip_members(zf, **LIMITS)


def test_symlink_member_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        link = zipfile.ZipInfo("link.png")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(ZipSafetyError, match=r"member 'link\.png' is a symbolic link") as excinfo:
        safe_zip_members(zipfile.ZipFile(buf), **LIMITS)
    assert excinfo.value.reason == "symlink"


def test_encrypted_member_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("secret.txt", "x")
    data = bytearray(buf.getvalue())
    data[6] |= 0x1  # general purpose flag, local header
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 0x1  # same flag, central directory
    with pytest.raises(ZipSafetyError, match=r"member 'secret\.txt' is encrypted"):
        safe_zip_members(zipfile.ZipFile(io.BytesIO(bytes(data))), **LIMITS)


def test_zip_bomb_ratio_is_refused():
    zf = make_zip({"zeros.bin": b"\x00" * (5 << 20)})
    info = zf.getinfo("zeros.bin")
    assert info.file_size / info.compress_size > 100
    with pytest.raises(ZipSafetyError, match=r"member 'zeros\.bin' expands \d+ times") as excinfo:
        safe_zip_members(zf, name="bomb.zip", max_total_bytes=1 << 30, max_files=10)
    assert excinfo.value.reason == "ratio"
    assert "likely zip bomb" in str(excinfo.value)


def test_ratio_limit_is_a_parameter():
    zf = make_zip({"zeros.bin": b"\x00" * (2 << 20)})
    assert len(safe_zip_members(zf, max_total_bytes=1 << 30, max_files=10, max_ratio=10_000)) == 1


def test_total_size_over_limit_is_refused_with_413():
    zf = make_zip({"a.bin": os.urandom(600), "b.bin": os.urandom(600)})
    with pytest.raises(
        ZipSafetyError, match=r"^x\.zip: unpacked size exceeds the limit of 1000 bytes$"
    ) as excinfo:
        safe_zip_members(zf, name="x.zip", max_total_bytes=1000, max_files=10)
    assert excinfo.value.reason == "size"
    assert excinfo.value.status == 413


def test_too_many_members_is_refused():
    zf = make_zip({f"{i}.txt": b"x" for i in range(6)})
    with pytest.raises(ZipSafetyError, match=r"more than 5 files") as excinfo:
        safe_zip_members(zf, max_total_bytes=1 << 20, max_files=5)
    assert excinfo.value.reason == "count"
    assert len(safe_zip_members(zf, max_total_bytes=1 << 20, max_files=6)) == 6


def test_store_writes_under_media_root_only(tmp_path):
    data = encode(two_colour(), "GIF")
    info = store_media(data, media_root=tmp_path / "media", name="../../a.gif")
    stored = list((tmp_path / "media").rglob("*.gif"))
    assert [p.name for p in stored] == [f"{info.sha256}.gif"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["media"]
    assert isinstance(stored[0], Path)
