"""Safe inspection of uploaded LoRA files.

Only the safetensors format is accepted: an 8-byte little-endian header length,
a JSON header describing every tensor, then raw tensor bytes. Nothing in an
upload is ever unpickled or executed:

- the name, the size and the first 8 bytes are checked here (a pickle or zip
  renamed to .safetensors, a header length that is absurd or runs past the end
  of the file), each refusal with its own reason;
- ``safetensors.safe_open`` then reads the header only: it parses and validates
  the tensor table (known dtypes, shapes whose byte size does not overflow,
  offsets inside the file, no overlap, no gap, no bytes after the last tensor,
  string-only metadata, bounded JSON nesting) and reads no tensor data;
- from its names, shapes and dtypes we refuse anything that does not look like
  pairs of LoRA A/B matrices. A kohya ``alpha`` scalar is the one tensor whose
  bytes are read (at most 8).
"""

from __future__ import annotations

import math
import re
import shutil
import struct
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from safetensors import SafetensorError, safe_open

from .jsonlimits import loads_limited

# safetensors itself refuses headers over 100 MB (the same limit); a LoRA header is a few hundred KB.
MAX_HEADER_BYTES = 100_000_000
MAX_TENSOR_DIMS = 8  # LoRA matrices are 2-D (conv LoRAs 4-D)

PICKLE_SUFFIXES = {".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle"}

# bytes per element of each safetensors dtype
DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
FLOAT_DTYPES = {"F16", "BF16", "F32", "F64", "F8_E4M3", "F8_E5M2"}

# <module>.<lora_A|lora_B|lora_down|lora_up>[.<adapter name>].weight
_PAIR_RE = re.compile(r"^(?P<module>.+)\.(?P<kind>lora_A|lora_B|lora_down|lora_up)(?:\.[A-Za-z0-9_\-]+)?\.weight$")
# tensors that may sit next to a pair: kohya's alpha scalar, DoRA magnitudes
_AUX_RE = re.compile(
    r"^(?P<module>.+)\.(?P<kind>alpha|dora_scale|lora_magnitude_vector(?:\.[A-Za-z0-9_\-]+)?(?:\.weight)?)$"
)

# kohya flattens module paths with underscores; these are the usual leaf names
_KOHYA_LEAVES = (
    "to_q", "to_k", "to_v", "to_out_0", "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out",
    "q_proj", "k_proj", "v_proj", "o_proj", "out_proj", "gate_proj", "up_proj", "down_proj",
    "proj_in", "proj_out", "proj_attn", "ff_net_0_proj", "ff_net_2", "net_0_proj", "net_2",
    "fc1", "fc2", "conv1", "conv2", "conv_shortcut", "time_emb_proj", "qkv", "proj",
)  # fmt: skip


class LoraValidationError(ValueError):
    """The upload is not a safe, well-formed LoRA; the message says why."""


@dataclass(frozen=True)
class LoraInfo:
    rank: int
    target_modules: list[str]
    num_tensors: int
    size_bytes: int
    dtype: str
    alpha: float | None = None
    format: str = "peft"  # "peft" (lora_A/lora_B) or "kohya" (lora_down/lora_up)
    num_pairs: int = 0
    ranks: list[int] = field(default_factory=list)

    def as_meta(self) -> dict[str, Any]:
        """JSON-ready form stored in Persona.video_lora_meta."""
        return asdict(self)


def inspect_lora(fh: IO[bytes], *, filename: str, size: int) -> LoraInfo:
    """Validate a LoRA safetensors stream and describe it; raises LoraValidationError."""
    _check_name_and_size(filename, size)
    fh.seek(0)
    prefix = fh.read(8)
    _check_magic(prefix)
    if len(prefix) < 8:
        raise LoraValidationError("The file is truncated: it is too short to hold a safetensors header.")
    (header_len,) = struct.unpack("<Q", prefix)
    if header_len > MAX_HEADER_BYTES or header_len < 2:
        raise LoraValidationError(f"Corrupt safetensors header: a header length of {header_len} bytes is absurd.")
    if 8 + header_len > size:
        raise LoraValidationError(
            f"The file is truncated: the header says {header_len} bytes but only {size - 8} bytes follow."
        )
    with _on_disk(fh) as path:
        tensors, metadata = _read_header(path)
    _check_tensor_table(tensors)
    info = _describe_pairs(tensors, size)
    alpha = _read_alpha(fh, header_len, tensors)
    if alpha is None:
        alpha = _alpha_from_metadata(metadata)
    return replace(info, alpha=alpha)


def _check_name_and_size(filename: str, size: int) -> None:
    suffix = Path(filename).suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise LoraValidationError(
            f"'{suffix}' files are refused: they are pickle-based and can run code when loaded. "
            "Convert the LoRA to .safetensors."
        )
    if suffix != ".safetensors":
        raise LoraValidationError("Only .safetensors LoRA files are accepted.")
    limit = settings.LORA_MAX_UPLOAD_BYTES
    if size > limit:
        raise LoraValidationError(f"The file is {_mb(size)}; the upload limit is {_mb(limit)}.")


def _check_magic(prefix: bytes) -> None:
    if prefix.startswith(b"PK\x03\x04") or prefix.startswith(b"PK\x05\x06"):
        raise LoraValidationError(
            "This is a zip archive (such as a PyTorch checkpoint renamed to .safetensors), not a safetensors file."
        )
    # pickle protocol 2+ starts with PROTO (0x80) and the protocol number
    if len(prefix) >= 2 and prefix[0] == 0x80 and 2 <= prefix[1] <= 5:
        raise LoraValidationError("This file contains pickle data, which is refused: it can run code when loaded.")


@contextmanager
def _on_disk(fh: IO[bytes]) -> Iterator[str]:
    """A path holding the upload's bytes: safe_open reads files, not streams.

    Django spools uploads over FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file, which is used
    as it is; smaller ones (and streams) are copied to one (the size limit was checked first).
    """
    temporary = getattr(fh, "temporary_file_path", None)
    if callable(temporary):
        yield temporary()
        return
    with tempfile.NamedTemporaryFile(suffix=".safetensors") as copy:
        fh.seek(0)
        shutil.copyfileobj(fh, copy)
        copy.flush()
        yield copy.name


def _read_header(path: str) -> tuple[dict[str, dict[str, Any]], dict[str, str] | None]:
    """(tensor name -> {dtype, shape, begin}, metadata) from the header alone, as safetensors validates it.

    ``begin`` is the tensor's data offset: safetensors has checked that the tensors, in
    offset order, tile the data section from 0 without gaps, so it is the sum of the sizes
    before it (None once a dtype of unknown byte size comes first).
    """
    try:
        with safe_open(path, framework="numpy") as st:
            tensors: dict[str, dict[str, Any]] = {}
            begin: int | None = 0
            for name in st.offset_keys():
                view = st.get_slice(name)
                dtype, shape = view.get_dtype(), view.get_shape()
                tensors[name] = {"dtype": dtype, "shape": shape, "begin": begin}
                size = DTYPE_SIZES.get(dtype)
                begin = None if begin is None or size is None else begin + math.prod(shape) * size
            return tensors, st.metadata()
    except SafetensorError as exc:
        raise LoraValidationError(_header_error(str(exc))) from None


def _header_error(message: str) -> str:
    """Our wording for safetensors' reason for refusing a header."""
    reason = message.removeprefix("Error while deserializing header: ")
    if "file not fully covered" in reason:  # safetensors does not say which of the two
        return ("The file does not match its tensor table: a tensor extends past the end of the file, "
                "or there are bytes after the last tensor.")
    if "recursion limit exceeded" in reason:
        return "Corrupt safetensors header: its JSON is nested far too deeply."
    if reason.startswith("invalid JSON in header"):
        return f"Corrupt safetensors header: it is not valid JSON for a safetensors file ({reason})."
    return f"Corrupt safetensors header: {reason}."


def _check_tensor_table(tensors: dict[str, dict[str, Any]]) -> None:
    """What safetensors allows but a LoRA upload may not hold."""
    if not tensors:
        raise LoraValidationError("The file holds no tensors.")
    for name, entry in tensors.items():
        if entry["dtype"] not in DTYPE_SIZES:
            raise LoraValidationError(
                f"Corrupt safetensors header: tensor '{name}' has unknown dtype {entry['dtype']!r}."
            )
        if len(entry["shape"]) > MAX_TENSOR_DIMS:
            raise LoraValidationError(
                f"Corrupt safetensors header: tensor '{name}' has {len(entry['shape'])} dimensions "
                f"(a LoRA has at most {MAX_TENSOR_DIMS})."
            )


def _describe_pairs(tensors: dict[str, dict[str, Any]], size: int) -> LoraInfo:
    pairs: dict[str, dict[str, dict[str, Any]]] = {}
    kinds: set[str] = set()
    foreign = []
    for name, entry in tensors.items():
        if m := _PAIR_RE.match(name):
            side = "A" if m["kind"] in ("lora_A", "lora_down") else "B"
            pairs.setdefault(m["module"], {})[side] = {**entry, "name": name}
            kinds.add("peft" if m["kind"] in ("lora_A", "lora_B") else "kohya")
        elif not _AUX_RE.match(name):
            foreign.append(name)
    if foreign:
        shown = ", ".join(sorted(foreign)[:3])
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise LoraValidationError(
            f"Not a LoRA: found tensors that are not LoRA A/B matrices ({shown}{more}). "
            "Upload only the adapter weights, not a full model."
        )
    if not pairs:
        raise LoraValidationError("Not a LoRA: no lora_A/lora_B (or lora_down/lora_up) tensors were found.")
    ranks, dtypes = [], Counter()
    for module, pair in sorted(pairs.items()):
        if set(pair) != {"A", "B"}:
            missing = "B (up)" if "A" in pair else "A (down)"
            raise LoraValidationError(f"Not a LoRA: module '{module}' has no matching {missing} matrix.")
        a, b = pair["A"], pair["B"]
        for t in (a, b):
            if t["dtype"] not in FLOAT_DTYPES:
                raise LoraValidationError(f"Not a LoRA: tensor '{t['name']}' has non-float dtype {t['dtype']}.")
            dtypes[t["dtype"]] += 1
        rank = _pair_rank(module, a["shape"], b["shape"])
        ranks.append(rank)
    return LoraInfo(
        rank=max(ranks),
        ranks=sorted(set(ranks)),
        target_modules=sorted({_leaf_name(m, kinds) for m in pairs}),
        num_tensors=len(tensors),
        num_pairs=len(pairs),
        size_bytes=size,
        dtype=",".join(d for d, _ in dtypes.most_common()),
        format="kohya" if kinds == {"kohya"} else "peft" if kinds == {"peft"} else "mixed",
    )


def _pair_rank(module: str, a_shape: list[int], b_shape: list[int]) -> int:
    """A is (r, in) or (r, in, kh, kw) for convolutions; B is (out, r) or (out, r, 1, 1)."""
    if len(a_shape) not in (2, 4) or len(b_shape) != len(a_shape):
        raise LoraValidationError(
            f"Not a LoRA: module '{module}' has A shape {a_shape} and B shape {b_shape}; expected 2-D matrices."
        )
    rank = a_shape[0]
    if b_shape[1] != rank or rank < 1:
        raise LoraValidationError(
            f"Not a LoRA: module '{module}' has A shape {a_shape} and B shape {b_shape}; the ranks do not match."
        )
    return rank


def _leaf_name(module: str, kinds: set[str]) -> str:
    """The layer name a trainer targets: 'to_q', 'q_proj', 'to_out.0'."""
    if "." in module:
        parts = module.split(".")
        return ".".join(parts[-2:]) if parts[-1].isdigit() and len(parts) > 1 else parts[-1]
    for leaf in _KOHYA_LEAVES:
        if module.endswith("_" + leaf) or module == leaf:
            return leaf
    return module.rsplit("_", 1)[-1]


_SCALAR_FORMATS = {"F16": "<e", "F32": "<f", "F64": "<d"}


def _read_alpha(fh: IO[bytes], header_len: int, tensors: dict[str, dict[str, Any]]) -> float | None:
    """kohya stores alpha as a scalar tensor per module; read the first one's bytes."""
    for name, entry in sorted(tensors.items()):
        dtype, begin = entry["dtype"], entry["begin"]
        if name.endswith(".alpha") and dtype in ("BF16", *_SCALAR_FORMATS) and _numel(entry) == 1 and begin is not None:
            fh.seek(8 + header_len + begin)
            raw = fh.read(DTYPE_SIZES[dtype])
            if dtype == "BF16":  # bfloat16 is the top half of a float32
                return struct.unpack("<f", b"\x00\x00" + raw)[0]
            return struct.unpack(_SCALAR_FORMATS[dtype], raw)[0]
    return None


def _alpha_from_metadata(metadata: Any) -> float | None:
    if not isinstance(metadata, dict):
        return None
    candidates = [metadata.get("ss_network_alpha"), metadata.get("lora_alpha")]
    # diffusers/peft write the adapter's LoraConfig as JSON metadata
    for key in ("lora_adapter_metadata", "transformer.lora_adapter_metadata"):
        try:
            config = loads_limited(metadata.get(key) or "null")
        except (TypeError, ValueError):  # not JSON, or nested too deeply (JSONTooDeep)
            config = None
        if isinstance(config, dict):
            candidates.append(config.get("lora_alpha"))
    for value in candidates:
        try:
            if value is not None:
                return float(value)
        except (TypeError, ValueError):
            continue
    return None


def _numel(entry: dict[str, Any]) -> int:
    return math.prod(entry["shape"])


def _mb(n: int) -> str:
    return f"{n / 1024**2:.1f} MB"
