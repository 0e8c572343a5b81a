"""Where files land in SharePoint: target-name collisions and library-level limits (SPEC §5).

SharePoint compares names case-insensitively, and renames and trims can make two source names one. The first
file in path order keeps its name; each later one gets a free name (` (2)`, ` (3)` before the extension) and is
sent to review, so no file silently overwrites another. A folder that lands on a file's name is renamed the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# list view threshold; unique permissions; OneDrive sync (Microsoft: "Restrictions and limitations in OneDrive and
# SharePoint"; "Software boundaries and limits for SharePoint")
FOLDER_ITEMS = 5_000
LIBRARY_ITEMS = 100_000
LIBRARY_FILES = 300_000


def _split_ext(name: str) -> tuple[str, str]:
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def numbered(name: str, n: int) -> str:
    stem, ext = _split_ext(name)
    return f"{stem} ({n}){ext}"


@dataclass
class Placer:
    """Target paths already taken in one library (site, library), compared as SharePoint compares them."""

    files: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)
    renamed_folders: dict[str, str] = field(default_factory=dict)  # lower-case folder -> the free name it got
    resolved: dict[str, tuple[str, bool]] = field(default_factory=dict)  # source folder -> (where it lands, renamed)

    def _taken(self, path: str) -> bool:
        return path.lower() in self.files or path.lower() in self.folders

    def _free(self, parent: str, name: str) -> str:
        n = 2
        while self._taken(_join(parent, numbered(name, n))):
            n += 1
        return numbered(name, n)

    def place(self, target_path: str) -> tuple[str, bool]:
        """The path the file gets, and whether it collided (a folder on its way or the file itself)."""
        slash = target_path.rfind("/")
        folder = self.resolved.get(target_path[:slash]) if slash >= 0 else ("", False)
        if folder is None:
            folder = self._resolve(target_path[:slash])
        built, collided = folder
        name = target_path[slash + 1 :]
        full = f"{built}/{name}" if built else name
        low = full.lower()
        if low in self.files or low in self.folders:
            full = _join(built, self._free(built, name))
            low = full.lower()
            collided = True
        self.files.add(low)
        return full, collided

    def _resolve(self, folder: str) -> tuple[str, bool]:
        """Where a folder lands: follow earlier renames, avoid files of the same name. Kept per source folder: once
        built, its path is taken as a folder, so no later file takes its name and the answer cannot change."""
        collided = False
        built = ""
        for seg in folder.split("/"):
            low = _join(built, seg).lower()
            if low in self.renamed_folders:
                seg = self.renamed_folders[low]
                collided = True
            elif low in self.files:
                seg = self._free(built, seg)
                self.renamed_folders[low] = seg
                collided = True
            built = _join(built, seg)
            self.folders.add(built.lower())
        self.resolved[folder] = (built, collided)
        return built, collided


@dataclass
class LibraryCounter:
    """Direct items per folder and items per library, for the library-level warnings."""

    folder_items: Counter = field(default_factory=Counter)  # (library key, folder) -> direct items
    seen_folders: set = field(default_factory=set)
    library_items: Counter = field(default_factory=Counter)
    library_files: Counter = field(default_factory=Counter)
    shown: dict = field(default_factory=dict)  # lower-case folder -> the name as first seen
    parents: dict = field(default_factory=dict)  # (library, folder as written) -> its key in folder_items

    def add(self, library: tuple[str, str], target_path: str) -> None:
        slash = target_path.rfind("/")
        self.folder_items[self.folder_key(library, target_path[:slash] if slash >= 0 else "")] += 1
        self.library_items[library] += 1
        self.library_files[library] += 1

    def folder_key(self, library: tuple[str, str], folder: str) -> tuple:
        """The key `folder`'s files are counted under in `folder_items`; its folders counted the first time."""
        return self.parents.get((library, folder)) or self._folder(library, folder)

    def _folder(self, library: tuple[str, str], folder: str) -> tuple:
        """Count the folders on the way to `folder` once; the key its files are counted under."""
        parent = ""
        for seg in folder.split("/") if folder else []:
            path = _join(parent, seg)
            key = (library, path.lower())
            if key not in self.seen_folders:
                self.seen_folders.add(key)
                self.shown[key] = path
                self.folder_items[(library, parent.lower())] += 1
                self.library_items[library] += 1
            parent = path
        self.parents[(library, folder)] = key = (library, parent.lower())
        return key

    def warnings(self) -> list[tuple[tuple[str, str], str, str, int]]:
        """(library, code, where, count) for every limit passed, in a stable order."""
        out = []
        for (library, folder), n in sorted(self.folder_items.items()):
            if n > FOLDER_ITEMS:
                shown = self.shown.get((library, folder), folder)
                out.append((library, "FOLDER_OVER_5000", shown or "(library root)", n))
        for library in sorted(self.library_items):
            if self.library_items[library] > LIBRARY_ITEMS:
                out.append((library, "LIBRARY_OVER_100000_ITEMS", "", self.library_items[library]))
            if self.library_files[library] > LIBRARY_FILES:
                out.append((library, "LIBRARY_OVER_300000_FILES", "", self.library_files[library]))
        return out
