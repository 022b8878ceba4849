"""Reading the `train` split of a dataset the export stage wrote: one loader for SFT and RL, so both
fail the same way (one line naming the directory, split or column) on a missing or wrong dataset."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


def read_train_split(dataset_dir: str | Path, needed: Sequence[str], what: str = "dataset",
                     needed_by: str = "", optional: Sequence[str] = ()):
    """The `train` split of the dataset saved in `dataset_dir` (a `DatasetDict` with a `train` split,
    or a bare `Dataset`), reduced to the columns `needed` plus whichever of `optional` it has.

    `what` names the dataset in errors ("dataset", "RL prompt set"); `needed_by` says which option
    needs the columns (" needed by train.format='messages'")."""
    from datasets import Dataset, DatasetDict, load_from_disk

    path = Path(dataset_dir)
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist (run the export stage first)")
    data = load_from_disk(str(path))
    if isinstance(data, DatasetDict):
        if "train" not in data:
            raise ValueError(f"{what} {path} has no 'train' split (splits: {sorted(data)})")
        data = data["train"]
    if not isinstance(data, Dataset):
        raise ValueError(f"{path} holds a {type(data).__name__}, expected a DatasetDict with a 'train' split")
    wanted = list(needed) + [c for c in optional if c in data.column_names and c not in needed]
    missing = [c for c in wanted if c not in data.column_names]
    if missing:
        raise ValueError(f"{what} {path} split 'train' lacks column(s) {missing}{needed_by} "
                         f"(columns: {data.column_names})")
    if len(data) == 0:
        raise ValueError(f"{what} {path} split 'train' is empty")
    return data.select_columns(wanted)
