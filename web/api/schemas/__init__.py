"""The pydantic models of the REST API's query parameters, request bodies and the answers that are
not Label Studio shapes (those are :mod:`labeling.wire`). They describe the routes for the
OpenAPI document (:mod:`web.api.openapi`); the views parse their input with
:mod:`web.api.params`, whose checks these models mirror.
"""

from web.api.schemas.annotating import *  # noqa: F403
from web.api.schemas.common import *  # noqa: F403
from web.api.schemas.datasets import *  # noqa: F403
from web.api.schemas.dm import *  # noqa: F403
from web.api.schemas.ml import *  # noqa: F403
from web.api.schemas.projects import *  # noqa: F403
from web.api.schemas.quality import *  # noqa: F403
from web.api.schemas.storages import *  # noqa: F403
from web.api.schemas.users import *  # noqa: F403
from web.api.schemas.webhooks import *  # noqa: F403
