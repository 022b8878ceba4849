"""Upload a finished export folder to a Hugging Face Hub dataset repo, one configuration at a time."""
from __future__ import annotations

import json
from pathlib import Path

from datasets import load_from_disk

from traces.card import render_card
from traces.card_provenance import provenance_section
from traces.export_dir import MARKER
from traces.prm_placeholder import Placeholder


def push_to_hub(out_dir: str | Path, repo: str, token: str | None = None, private: bool | None = None) -> None:
    """Upload an export directory to the Hub dataset repo `repo`: each configuration with
    `DatasetDict.push_to_hub(repo, config_name=...)`, then the card (rewritten for Hub paths).

    Fails with a message naming `repo` when the Hub cannot be reached or offline mode is on.
    """
    import huggingface_hub
    out_dir = Path(out_dir)
    marker = out_dir / MARKER
    if not marker.exists():
        raise FileNotFoundError(f"{out_dir} is not a journeyforge export (no {MARKER}); run the export stage first")
    summary = json.loads(marker.read_text(encoding="utf-8"))
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        raise ConnectionError(
            f"cannot push the export to Hub repo {repo!r}: Hugging Face offline mode is on "
            "(HF_HUB_OFFLINE=1); unset it on a machine with network access and log in with `hf auth login`"
        )
    try:
        for name, relative in summary["paths"].items():
            load_from_disk(str(out_dir / relative)).push_to_hub(
                repo, config_name=name, token=token, private=private, commit_message=f"journeyforge export: {name}"
            )
        card = render_card(
            configs=summary["configs"],
            paths=summary["paths"],
            stats_table=summary["stats_table"],
            run_config=summary["run_config"],
            task_name=summary["task"],
            label_notes=summary.get("label_notes", ""),
            layout="hub",
            dropped=summary.get("dropped"),
            prm_placeholder=Placeholder(**summary["prm_placeholder"]) if summary.get("prm_placeholder") else None,
            provenance=provenance_section(summary["provenance"]) if summary.get("provenance") else None,
        )
        api = huggingface_hub.HfApi(token=token)
        api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=repo, repo_type="dataset")
        api.upload_file(path_or_fileobj=str(out_dir / "stats.png"), path_in_repo="stats.png", repo_id=repo,
                        repo_type="dataset")
    except Exception as exc:
        # The hub client raises its HTTP library's errors (not OSError) for an unreachable host, and
        # HfHubHTTPError for refused pushes: whichever it is, say which repo and what to check.
        raise RuntimeError(
            f"pushing the export in {out_dir} to Hub repo {repo!r} failed: {exc}. "
            "Check network access, the repo name and your token (`hf auth login`)."
        ) from exc


__all__ = ["push_to_hub"]
