"""Media storage that never leaves half a file: each file is written to a temporary name in its
folder and linked into place only when complete, so a full or read-only disk leaves nothing
behind, and the error says what is wrong with the storage (see maskportal.outages)."""

from __future__ import annotations

import contextlib
import os
import tempfile

from django.core.files.storage import FileSystemStorage

from maskportal.outages import storage_error


class AtomicFileSystemStorage(FileSystemStorage):
    def _save(self, name: str, content) -> str:
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        try:
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".incoming-")
        except OSError as exc:
            raise storage_error(exc) from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                if hasattr(content, "temporary_file_path"):
                    with open(content.temporary_file_path(), "rb") as source:
                        while block := source.read(1 << 20):
                            handle.write(block)
                else:
                    for chunk in content.chunks():
                        handle.write(chunk if isinstance(chunk, bytes) else chunk.encode())
            while True:
                try:
                    os.link(tmp, full_path)  # never replaces a file another row points to
                    break
                except FileExistsError:
                    name = self.get_available_name(name)
                    full_path = self.path(name)
            if self.file_permissions_mode is not None:
                os.chmod(full_path, self.file_permissions_mode)
        except OSError as exc:
            raise storage_error(exc) from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return str(name).replace("\\", "/")
