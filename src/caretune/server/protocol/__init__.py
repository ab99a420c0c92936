"""Request and response models of the API, one module per area, shaped as OpenAI's API reference defines
them (and, for the chat app's own routes, in the same style).

Ranges and limits come from the types the engines declare (``caretune.engines.params``), so FastAPI rejects
a bad value with a 400 naming the parameter before any serving logic runs, and ``/openapi.json`` (which
schemathesis fuzzes) says exactly what the engines accept. Unknown fields are ignored, as OpenAI's API does,
so SDK versions that send new optional parameters keep working. Requests convert themselves into what the
library takes (``to_sampling_params``), so serving code never maps fields by hand.
"""
