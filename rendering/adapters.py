"""LoRA adapter cache for a loaded diffusers pipeline: one adapter per persona LoRA file, LRU-evicted.

Loading a LoRA reads and injects weights (slow); switching between loaded
adapters is ``set_adapters`` (about a millisecond), so the worker keeps up to
``capacity`` adapters resident (a cachetools ``LRUCache``) and evicts the least
recently used with ``delete_adapters``, before loading the next one.
Personas without a LoRA render with ``disable_lora()``, which gives exactly
the base model's output.
"""

from __future__ import annotations

import logging
import os
import threading
import zlib

from cachetools import LRUCache

log = logging.getLogger(__name__)


def adapter_name_for(path: str, persona_id: int | str) -> str:
    """Stable per file version: a re-uploaded LoRA (new size/mtime) gets a new adapter."""
    stat = os.stat(path)
    digest = zlib.crc32(f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return f"persona{persona_id}_{digest:08x}"


class AdapterCache:
    def __init__(self, pipe, capacity: int) -> None:
        self.pipe = pipe
        self.capacity = max(1, capacity)
        self._resident: LRUCache[str, str] = LRUCache(maxsize=self.capacity)  # adapter name -> path
        self._lock = threading.Lock()
        self.loads = 0  # how many times a LoRA file was actually read (tests and the bench look at this)
        self.active: str | None = None

    @property
    def resident(self) -> list[str]:
        return list(self._resident)

    def activate(self, *, path: str | None, persona_id: int | str, weight: float = 1.0) -> str | None:
        """Make the persona's LoRA the only active adapter (or none); returns the adapter name."""
        with self._lock:
            if not path:
                if self._resident:
                    self.pipe.disable_lora()
                self.active = None
                return None
            name = adapter_name_for(path, persona_id)
            if self._resident.get(name) is None:  # a hit becomes the most recently used
                if len(self._resident) >= self.capacity:  # free the pipeline's memory before loading
                    evicted, _ = self._resident.popitem()  # the least recently used
                    self.pipe.delete_adapters(evicted)
                    log.info("evicted LoRA adapter %s", evicted)
                self.pipe.load_lora_weights(path, adapter_name=name)
                self.loads += 1
                self._resident[name] = path
            self.pipe.enable_lora()
            self.pipe.set_adapters([name], adapter_weights=[weight])
            self.active = name
            return name
