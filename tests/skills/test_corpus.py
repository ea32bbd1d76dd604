#!/usr/bin/env python3
"""Self-checks of the skill corpus: python3 -m unittest tests/skills/test_corpus.py"""

import io
import json
import os
import sys
import tempfile
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402


class CorpusTest(unittest.TestCase):
    def test_counts(self):
        c = corpus.counts()
        self.assertGreaterEqual(len(corpus.PACKAGES), 60)
        self.assertGreaterEqual(c["benign"], 22)
        self.assertGreaterEqual(c["malicious"], 30)
        self.assertGreaterEqual(c["invalid"], 8)

    def test_labels(self):
        for pid, lab in corpus.LABELS.items():
            if lab["kind"] == "malicious":
                self.assertTrue(lab["expect_rules"], pid)
                self.assertIsNone(lab["expect_error"], pid)
            elif lab["kind"] == "benign":
                self.assertEqual(lab["expect_rules"], [], pid)
                self.assertIsNone(lab["expect_error"], pid)
            else:
                self.assertIn(lab["expect_error"], corpus.ERRORS, pid)
        used = {r for lab in corpus.LABELS.values() for r in lab["expect_rules"]}
        self.assertEqual(used, set(corpus.RULES))
        errs = {lab["expect_error"] for lab in corpus.LABELS.values() if lab["expect_error"]}
        self.assertEqual(errs, set(corpus.ERRORS))

    def test_deterministic(self):
        for pid in corpus.PACKAGES:
            self.assertEqual(corpus.build(pid), corpus.build(pid), pid)

    def test_valid_packages_are_well_formed(self):
        for pid, lab in corpus.LABELS.items():
            if lab["kind"] == "invalid":
                continue
            zf = zipfile.ZipFile(io.BytesIO(corpus.build(pid)))
            names = zf.namelist()
            skill_mds = [n for n in names if n.endswith("/SKILL.md")]
            self.assertEqual(len(skill_mds), 1, pid)
            folder = skill_mds[0].split("/")[0]
            text = zf.read(skill_mds[0]).decode("utf-8")
            self.assertTrue(text.startswith("---\n"), pid)
            fm = text.split("---\n")[1]
            name = [l for l in fm.splitlines() if l.startswith("name: ")][0][6:]
            self.assertEqual(name, folder, pid)
            desc = json.loads([l for l in fm.splitlines() if l.startswith("description: ")][0][13:])
            self.assertLessEqual(len(desc), 1024, pid)
            for n in names:
                self.assertTrue(n.startswith(folder + "/"), (pid, n))
                self.assertNotIn("..", n.split("/"), (pid, n))

    def test_invalid_shapes(self):
        z = lambda pid: zipfile.ZipFile(io.BytesIO(corpus.build(pid)))
        self.assertEqual(len(z("i02-skill-md-duplicate").namelist()), 2)
        self.assertIn("../evil/run.sh", z("i08-zip-slip").namelist())
        link = z("i09-symlink").getinfo("link-skill/scripts/config")
        self.assertEqual(link.external_attr >> 16, 0o120777)
        bomb = z("i10-zip-bomb").getinfo("bomb-skill/assets/data.bin")
        self.assertGreater(bomb.file_size / bomb.compress_size, 500)
        with self.assertRaises(zipfile.BadZipFile):
            z("i11-not-zip")

    def test_cli(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(corpus.main(["corpus.py", d]), 0)
            labels = json.load(open(os.path.join(d, "labels.json")))
            self.assertEqual(set(labels), set(corpus.PACKAGES))
            for pid in labels:
                self.assertTrue(os.path.exists(os.path.join(d, pid + ".zip")))


if __name__ == "__main__":
    unittest.main()
