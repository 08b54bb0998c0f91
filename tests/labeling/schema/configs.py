"""Label configs and result items shared by the schema tests."""

from __future__ import annotations

TEXT_CLS = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" required="true">
    <Choice value="pos" hotkey="1"/>
    <Choice value="neg" hotkey="2"/>
  </Choices>
</View>"""

NER = """<View>
  <Labels name="ner" toName="text">
    <Label value="PER" hotkey="1" background="red"/>
    <Label value="ORG" hotkey="2"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>"""

DETECTION = """<View>
  <Image name="img" value="$image"/>
  <RectangleLabels name="box" toName="img">
    <Label value="cat" hotkey="1"/>
    <Label value="dog" hotkey="2"/>
  </RectangleLabels>
</View>"""

MIXED = """<View>
  <Header value="Describe the picture"/>
  <Style>.x { color: red }</Style>
  <View style="display: flex">
    <Image name="img" value="$url"/>
  </View>
  <Choices name="tags" toName="img" choice="multiple">
    <View><Choice value="indoor"/><Choice value="outdoor"/></View>
  </Choices>
  <TextArea name="caption" toName="img"/>
  <Rating name="quality" toName="img" maxRating="3"/>
</View>"""


def _choice(*labels, from_name="sentiment", to_name="text"):
    return {
        "from_name": from_name,
        "to_name": to_name,
        "type": "choices",
        "value": {"choices": list(labels)},
    }


def _span(start, end, text, label="PER"):
    value = {"start": start, "end": end, "labels": [label]}
    if text is not None:
        value["text"] = text
    return {"from_name": "ner", "to_name": "text", "type": "labels", "value": value}


def _box(x, y, w, h, label="cat", rotation=0):
    return {
        "from_name": "box",
        "to_name": "img",
        "type": "rectanglelabels",
        "value": {
            "x": x,
            "y": y,
            "width": w,
            "height": h,
            "rotation": rotation,
            "rectanglelabels": [label],
        },
    }
