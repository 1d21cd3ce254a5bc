"""The kit's own timer re-reads a mounted Secret (the conformance suite calls reload() itself)."""

from __future__ import annotations

import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from jwt_consumer_kit import ConsumerKit, fingerprint  # noqa: E402

OLD, NEW = "a" * 88, "b" * 88


class Reload(unittest.TestCase):
    def test_a_mounted_secret_is_re_read_by_the_timer(self) -> None:
        with tempfile.TemporaryDirectory() as directory:
            (Path(directory) / "JWT_SECRET").write_text(OLD)
            kit = ConsumerKit.open(secret_dir=directory, reload_interval=0.05)
            try:
                self.assertEqual(kit.sign({"sub": "a"}).kid, fingerprint(OLD))
                (Path(directory) / "JWT_SECRET").write_text(NEW)
                deadline = time.monotonic() + 10
                while kit.keys.current.kid != fingerprint(NEW) and time.monotonic() < deadline:
                    time.sleep(0.02)
                self.assertEqual(kit.sign({"sub": "a"}).kid, fingerprint(NEW))
            finally:
                kit.close()


if __name__ == "__main__":
    unittest.main()
