"""What the task store on disk holds, read the way a second process would."""

from __future__ import annotations

from pathlib import Path

from skills.store import TaskStore


def open_task_texts(data_dir: Path) -> list[str]:
    """The open tasks' words in `<data_dir>/hark.db`, every list, in the store's order."""
    store = TaskStore(data_dir / "hark.db")
    try:
        return [t.text for t in store.list_tasks()]
    finally:
        store.close()
