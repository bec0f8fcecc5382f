"""LoRA adapter cache for a loaded diffusers pipeline: one adapter per persona LoRA file, LRU-evicted.

Loading a LoRA reads and injects weights (slow); switching between loaded
adapters is ``set_adapters`` (about a millisecond), so the worker keeps up to
``capacity`` adapters resident (a cachetools ``LRUCache``) and evicts the least
recently used with ``delete_adapters``, before loading the next one.
Personas without a LoRA render with ``disable_lora()``, which gives exactly
the base model's output.

With a compiled transformer (``RENDER_COMPILE``) the cache holds one slot and
swaps a new persona's weights into it in place (diffusers' LoRA hotswap), since
adding or deleting adapters would recompile. Adapters named in ``always_on``
(the fast profile's distilled LoRA) stay active next to the persona's.
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


HOTSWAP_SLOT = "persona"


class AdapterCache:
    def __init__(self, pipe, capacity: int, *, hotswap: bool = False,
                 always_on: dict[str, float] | None = None) -> None:
        self.pipe = pipe
        self.hotswap = hotswap
        self.always_on = dict(always_on or {})
        self.capacity = 1 if hotswap else max(1, capacity)
        self._resident: LRUCache[str, str] = LRUCache(maxsize=self.capacity)  # adapter name -> path
        self._lock = threading.Lock()
        self.loads = 0  # how many times a LoRA file was actually read (tests and the bench look at this)
        self.active: str | None = None

    @property
    def resident(self) -> list[str]:
        return list(self._resident)

    def activate(self, *, path: str | None, persona_id: int | str, weight: float = 1.0) -> str | None:
        """Make the persona's LoRA the only active persona adapter (or none); returns the adapter name."""
        with self._lock:
            if not path:
                if self.always_on:
                    self._set_active([])
                elif self._resident:
                    self.pipe.disable_lora()
                self.active = None
                return None
            name = adapter_name_for(path, persona_id)
            loaded = self._swap_in(name, path) if self.hotswap else self._load(name, path)
            self.pipe.enable_lora()
            self._set_active([(loaded, weight)])
            self.active = name
            return name

    def _load(self, name: str, path: str) -> str:
        if self._resident.get(name) is None:  # a hit becomes the most recently used
            if len(self._resident) >= self.capacity:  # free the pipeline's memory before loading
                evicted, _ = self._resident.popitem()  # the least recently used
                self.pipe.delete_adapters(evicted)
                log.info("evicted LoRA adapter %s", evicted)
            self.pipe.load_lora_weights(path, adapter_name=name)
            self.loads += 1
            self._resident[name] = path
        return name

    def _swap_in(self, name: str, path: str) -> str:
        """One slot, weights replaced in place: the compiled graph stays valid."""
        current = next(iter(self._resident), None)
        if current == name:
            return HOTSWAP_SLOT
        if current is None:
            self.pipe.load_lora_weights(path, adapter_name=HOTSWAP_SLOT)
        else:
            try:
                self.pipe.load_lora_weights(path, adapter_name=HOTSWAP_SLOT, hotswap=True)
            except ValueError as exc:  # other target layers, alpha or a rank above RENDER_LORA_MAX_RANK
                log.warning("LoRA %s cannot be hot-swapped (%s): reloading, which recompiles", path, exc)
                self.pipe.delete_adapters(HOTSWAP_SLOT)
                self.pipe.load_lora_weights(path, adapter_name=HOTSWAP_SLOT)
            self._resident.clear()
        self.loads += 1
        self._resident[name] = path
        return HOTSWAP_SLOT

    def _set_active(self, persona: list[tuple[str, float]]) -> None:
        chosen = [*persona, *self.always_on.items()]
        self.pipe.set_adapters([n for n, _ in chosen], adapter_weights=[w for _, w in chosen])
