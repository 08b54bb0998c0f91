"""The WSGI entry point of a serving process (``labelfab serve``; or any WSGI server:
``granian --interface wsgi web.wsgi:app``): the app, and this process's background work."""

from web import create_app
from web.server import start_background

app = create_app()
start_background()
