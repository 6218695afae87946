"""Text folders: `root/<class>/*.txt` (or split folders above them), one example per file.

Files are decoded with the given encoding (UTF-8 by default); bytes that do not decode become
replacement characters and are counted in the report, up to `files.MAX_UNDECODABLE_SHARE` of the
files, above which the folder is refused as being in another encoding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelzoo.data.files import (
    FileData,
    Reader,
    ReadOptions,
    Split,
    assign_splits,
    base_report,
    check_known,
    check_texts,
    check_undecodable,
    class_folders,
    fingerprints,
    labels_from,
    register_reader,
    relative,
    text_info,
)

SUFFIXES = (".txt",)


def read(root: Path, options: ReadOptions) -> FileData:
    """A folder of text files as a `FileData`; see the module docstring."""
    layout, found, others = class_folders(root, SUFFIXES)
    class_names = labels_from(sorted(found.get("train", found.get("all", {}))), root)
    encoding = options.encoding or "utf-8"
    replaced = total = 0
    parts = {}
    for split, classes in found.items():
        texts, labels, ids = [], [], []
        for class_name, files in classes.items():
            label = check_known(class_name, class_names, split, root)
            for file in files:
                raw = Path(file).read_bytes()
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError:
                    text = raw.decode(encoding, errors="replace")
                    replaced += 1
                total += 1
                texts.append(text)
                labels.append(label)
                ids.append(relative(file, root))
        values = np.array(texts, dtype=object)
        parts[split] = Split(
            values, np.array(labels, dtype=np.int64), np.array(ids, dtype=object), fingerprints(values)
        )
    note = check_undecodable(root, replaced, total, "files", options.encoding)
    notes = [note] if note else []
    check_texts(root, np.concatenate([p.features for p in parts.values()]), notes)
    splits, split_rule = assign_splits(parts, options.seed)
    skipped = [{"file": relative(f, root), "why": "not a .txt file"} for f in others]
    report = base_report(root, "text", layout, split_rule, skipped)
    report["notes"] += notes
    return FileData(text_info(options.name, root, class_names), root, "text", splits, report)


READER = register_reader(Reader("text", read, SUFFIXES))
