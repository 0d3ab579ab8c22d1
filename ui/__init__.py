"""The chat page: a Gradio app mounted into the FastAPI server (see ui.page.mount_ui)."""

import os

# The page must work offline and send nothing anywhere: no Gradio telemetry.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
