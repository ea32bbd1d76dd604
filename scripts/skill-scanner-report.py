#!/usr/bin/env python3
"""Helper of scripts/skill-scanner-compare (stdlib only).

  skill-scanner-report.py extract CORPUS_DIR OUT_DIR   extract each <id>.zip into OUT_DIR/<id>/
  skill-scanner-report.py skill-dir DIR                the one folder under DIR holding SKILL.md
                                                       (DIR itself when there are none or several)
  skill-scanner-report.py report --labels L --extracted E --out-dir O   markdown report on stdout
"""

import argparse
import json
import os
import shutil
import statistics
import stat
import sys
import zipfile

SEV = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
MEDIUM = SEV["medium"]


def sev(s):
    return SEV.get(str(s or "").strip().lower(), -1)


# ---------------------------------------------------------------------------
# extract


def safe_parts(name):
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return parts


def extract(corpus, out):
    """Extracts without ever writing outside OUT/<id>: '..' and absolute components are dropped
    (the entry is kept, so a directory scanner still sees its content), symlink entries become
    symlinks (dangling ones; never followed here), duplicates: the last entry wins. A file that is
    not a zip gives an empty folder. A manifest of what was altered goes to OUT.manifest.json."""
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    manifest = {}
    for fn in sorted(os.listdir(corpus)):
        if not fn.endswith(".zip"):
            continue
        pid = fn[:-4]
        root = os.path.join(out, pid)
        os.makedirs(root)
        notes = []
        try:
            zf = zipfile.ZipFile(os.path.join(corpus, fn))
        except zipfile.BadZipFile:
            manifest[pid] = ["not a zip: nothing extracted"]
            continue
        seen = set()
        for zi in zf.infolist():
            parts = safe_parts(zi.filename)
            if parts != [p for p in zi.filename.split("/") if p]:
                notes.append("unsafe path %r extracted as %r" % (zi.filename, "/".join(parts)))
            if not parts:
                continue
            dest = os.path.join(root, *parts)
            if zi.filename in seen:
                notes.append("duplicate entry %r (last wins)" % zi.filename)
            seen.add(zi.filename)
            if zi.is_dir():
                os.makedirs(dest, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            mode = zi.external_attr >> 16
            if stat.S_ISLNK(mode):
                target = zf.read(zi).decode("utf-8", "replace")
                if os.path.lexists(dest):
                    os.remove(dest)
                os.symlink(target, dest)
                notes.append("symlink %r -> %r" % (zi.filename, target))
                continue
            with zf.open(zi) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            if mode & 0o111:
                os.chmod(dest, 0o755)
        if notes:
            manifest[pid] = notes
    with open(out.rstrip("/") + ".manifest.json", "w") as f:
        json.dump(manifest, f, indent=2)
    print("extracted %d packages into %s" % (len(os.listdir(out)), out))


def skill_dir(d):
    found = []
    for dirpath, dirnames, filenames in os.walk(d):
        if "SKILL.md" in filenames:
            found.append(dirpath)
    return found[0] if len(found) == 1 else d.rstrip("/")


# ---------------------------------------------------------------------------
# report


def load_json(path, default=None):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def cisco_findings(result):
    return [(f.get("rule_id") or f.get("id"), str(f.get("severity", "")).upper(), f.get("category"),
             f.get("file_path"), f.get("line_number")) for f in result.get("findings", [])]


def fmt_ms(xs):
    if not xs:
        return "–"
    return "%.1f / %.1f" % (statistics.median(xs), statistics.mean(xs))


def esc(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def report(args):
    labels = load_json(args.labels, {})
    out = args.out_dir
    ext = os.path.abspath(args.extracted)
    meta = load_json(os.path.join(out, "meta.json"), {})
    manifest = load_json(ext.rstrip("/") + ".manifest.json", {})
    ids = sorted(labels)

    # --- Cisco
    cisco_run = meta.get("cisco_status") == "run"
    per_pkg = {}          # id -> result dict (per-package process)
    per_pkg_err = {}      # id -> stderr tail when no result
    wall = {}
    if cisco_run:
        tpath = os.path.join(out, "cisco-times.tsv")
        if os.path.exists(tpath):
            for line in open(tpath):
                pid, rc, secs = line.rstrip("\n").split("\t")
                wall[pid] = float(secs)
        for pid in ids:
            r = load_json(os.path.join(out, "cisco", pid + ".json"))
            if isinstance(r, dict) and "findings" in r:
                per_pkg[pid] = r
            else:
                try:
                    err = open(os.path.join(out, "cisco", pid + ".stderr"), errors="replace").read().strip()
                except OSError:
                    err = ""
                per_pkg_err[pid] = err.splitlines()[-1] if err else ""
    scan_all = {}
    sa = load_json(os.path.join(out, "cisco-scan-all.json"), {}) if cisco_run else {}
    for r in (sa or {}).get("results", []):
        rel = os.path.relpath(os.path.abspath(r.get("skill_path", "")), ext)
        pid = rel.split(os.sep)[0]
        scan_all.setdefault(pid, []).append(r)
    sa_meta = load_json(os.path.join(out, "cisco-scan-all.meta.json"), {}) if cisco_run else {}

    def cisco_result(pid):
        """findings list and a status: 'ok' | 'no result'"""
        if pid in per_pkg:
            return cisco_findings(per_pkg[pid]), "ok"
        if pid in scan_all:
            fs = []
            for r in scan_all[pid]:
                fs += cisco_findings(r)
            return fs, "ok"
        return [], "no result"

    # startup
    startup = []
    st_path = os.path.join(out, "cisco-startup.tsv")
    if cisco_run and os.path.exists(st_path):
        for line in open(st_path):
            run, secs = line.split()
            r = load_json(os.path.join(out, "startup", "run%s.json" % run), {}) or {}
            startup.append((float(secs), float(r.get("duration_ms", 0)) / 1000.0))
    warm_startup = [w - d for w, d in startup[1:]] or [w - d for w, d in startup]
    startup_s = statistics.median(warm_startup) if warm_startup else None

    # --- amc
    amc_run = meta.get("amc_status") == "run"
    amc = {}
    if amc_run:
        for line in open(os.path.join(out, "amc.jsonl"), encoding="utf-8"):
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                r = json.loads(line)
            except ValueError:
                continue
            pid = os.path.basename(str(r.get("package", "")))
            pid = pid[:-4] if pid.endswith(".zip") else pid
            amc[pid] = r

    # --- per package verdicts
    rows = []
    tot = {k: {"n": 0, "cisco": 0, "amc": 0} for k in ("benign", "malicious", "invalid")}
    cisco_only = []
    amc_missing_rules = []
    cisco_flagged = []
    amc_ms = []
    cisco_ms_pp = []
    cisco_ms_sa = []
    disagree = []
    for pid in ids:
        lab = labels[pid]
        kind = lab["kind"]
        tot[kind]["n"] += 1

        # Cisco
        c_cell = "not run"
        c_flag = None
        if cisco_run:
            fs, status = cisco_result(pid)
            hi = [f for f in fs if sev(f[1]) >= MEDIUM]
            c_flag = bool(hi)
            if pid in per_pkg and pid in scan_all:
                sa_flag = any(sev(f[1]) >= MEDIUM for r in scan_all[pid] for f in cisco_findings(r))
                if sa_flag != c_flag:
                    disagree.append(pid)
            if status != "ok":
                c_cell = "no result (%s)" % esc(per_pkg_err.get(pid, "")[:80])
            else:
                shown = sorted({"%s:%s" % (f[0], f[1]) for f in (hi or fs)})
                c_cell = ", ".join(shown) if shown else "–"
                if not hi and fs:
                    c_cell = "(below medium) " + c_cell
            if pid in per_pkg:
                cisco_ms_pp.append(float(per_pkg[pid].get("duration_ms", 0)))
            for r in scan_all.get(pid, []):
                cisco_ms_sa.append(float(r.get("duration_ms", 0)))
            if c_flag:
                cisco_flagged.append((pid, sorted({f[0] for f in hi})))

        # amc
        a_cell = "not run"
        a_flag = None
        a_err = None
        if amc_run:
            r = amc.get(pid)
            if r is None:
                a_cell = "no output"
            else:
                if r.get("micros") is not None:
                    amc_ms.append(float(r["micros"]) / 1000.0)
                if r.get("error"):
                    a_err = (r["error"] or {}).get("code")
                fs = r.get("findings") or []
                hi = [f for f in fs if sev(f.get("severity")) >= MEDIUM]
                a_flag = bool(hi)
                parts = sorted({"%s:%s" % (f.get("rule"), str(f.get("severity", "")).lower()) for f in (hi or fs)})
                a_cell = ", ".join(parts) if parts else "–"
                if a_err:
                    a_cell = "rejected %s; " % a_err + a_cell
                if kind == "malicious":
                    got = {f.get("rule") for f in hi}
                    missing = [x for x in lab["expect_rules"] if x not in got]
                    if missing:
                        amc_missing_rules.append((pid, missing))

        # verdict columns
        if kind == "malicious":
            c_v = "–" if c_flag is None else ("yes" if c_flag else "**no**")
            a_v = "–" if a_flag is None else ("yes" if a_flag else ("rejected" if a_err else "**no**"))
            if c_flag:
                tot[kind]["cisco"] += 1
            if a_flag:
                tot[kind]["amc"] += 1
            if c_flag and a_flag is not True:
                cisco_only.append(pid)
            fmt = "–"
        elif kind == "benign":
            c_v = "–" if c_flag is None else ("**FP**" if c_flag else "ok")
            a_v = "–" if a_flag is None else ("**FP**" if a_flag else ("**rejected %s**" % a_err if a_err else "ok"))
            if c_flag:
                tot[kind]["cisco"] += 1
            if a_flag or a_err:
                tot[kind]["amc"] += 1
            fmt = "–"
        else:
            exp = lab["expect_error"]
            c_v = "–"
            if cisco_run:
                fs, status = cisco_result(pid)
                if exp == "Package.NotZip":
                    c_v = "n/a"
                else:
                    note = cisco_notices(fs, status)
                    c_v = ("yes (%s)" % note) if note else "**no**"
                    if note:
                        tot[kind]["cisco"] += 1
            if amc_run:
                a_v = "yes" if a_err == exp else ("**%s**" % (a_err or "accepted"))
                if a_err == exp:
                    tot[kind]["amc"] += 1
            else:
                a_v = "–"
            fmt = exp
        rows.append((pid, kind, lab["does"], c_cell, c_v, a_cell, a_v, fmt))

    # --- write
    w = []
    p = w.append
    p("# Skill scanner comparison: Cisco AI skill scanner %s vs amc" % meta.get("cisco_version", "?"))
    p("")
    p("Generated by `scripts/skill-scanner-compare` on %s, %s cores. Corpus: `tests/skills/corpus.py` "
      "(%d packages: %d benign, %d malicious, %d format-invalid). Cisco: %s (static analysers, no LLM, offline). "
      "amc: %s." % (meta.get("date", "?"), meta.get("cores", "?"), len(ids), tot["benign"]["n"],
                   tot["malicious"]["n"], tot["invalid"]["n"], meta.get("cisco_status"), meta.get("amc_status")))
    p("")
    p("\"Detected\" (malicious) and \"FP\" (benign) mean at least one finding of severity medium or above. "
      "Cisco's format column: whether its findings for a format-invalid package say anything about the "
      "defect (it takes directories, so the zip was extracted first, see the notes; a non-zip cannot be "
      "given to it). amc's: whether it rejected the package with the expected error code.")
    p("")
    p("## Totals")
    p("")
    p("| | Cisco | amc |")
    p("|---|---|---|")

    def t(kind, who, run):
        return ("%d/%d" % (tot[kind][who], tot[kind]["n"])) if run else "not run"
    n_inv_cisco = tot["invalid"]["n"] - sum(1 for pid in ids if labels[pid]["expect_error"] == "Package.NotZip")
    p("| malicious detected | %s | %s |" % (t("malicious", "cisco", cisco_run), t("malicious", "amc", amc_run)))
    p("| benign false positives | %s | %s |" % (t("benign", "cisco", cisco_run), t("benign", "amc", amc_run)))
    p("| format-invalid caught | %s | %s |" % (
        ("%d/%d (non-zip not applicable)" % (tot["invalid"]["cisco"], n_inv_cisco)) if cisco_run else "not run",
        t("invalid", "amc", amc_run)))
    p("| time per package, median / mean (ms) | %s | %s |" % (
        (fmt_ms(cisco_ms_pp or cisco_ms_sa) + " (scan's own duration, start-up excluded)") if cisco_run else "not run",
        fmt_ms(amc_ms) if amc_run else "not run"))
    if cisco_run:
        p("| Cisco inside `scan-all`, median / mean (ms) | %s | |" % fmt_ms(cisco_ms_sa))
        if wall:
            p("| Cisco process wall time per package, median / mean (s) | %.2f / %.2f | |" % (
                statistics.median(wall.values()), statistics.mean(wall.values())))
        if startup_s is not None:
            p("| Cisco start-up per process (s, warm; first run %.1f s) | %.2f | |" % (
                startup[0][0] - startup[0][1], startup_s))
        if sa_meta:
            p("| Cisco `scan-all` of the whole folder, wall (s) | %.1f (exit %s) | |" % (
                sa_meta.get("scan_all_wall_s", 0), sa_meta.get("scan_all_rc")))
    p("")
    p("## Packages Cisco detects but amc misses")
    p("")
    if not (cisco_run and amc_run):
        p("Not computed: %s not run." % ("Cisco" if not cisco_run else "amc"))
    elif cisco_only:
        for pid in cisco_only:
            p("- `%s`: %s" % (pid, labels[pid]["does"]))
    else:
        p("None.")
    p("")
    if amc_run:
        p("## Malicious packages where amc lacks an expected rule (medium or above)")
        p("")
        if amc_missing_rules:
            for pid, miss in amc_missing_rules:
                p("- `%s`: %s" % (pid, ", ".join(miss)))
        else:
            p("None.")
        p("")
    if cisco_run:
        p("## Packages Cisco flags (a finding of medium or above)")
        p("")
        for pid, rules in cisco_flagged:
            p("- `%s` (%s): %s" % (pid, labels[pid]["kind"], ", ".join(rules)))
        p("")
        if disagree:
            p("Cisco's per-package run and its `scan-all` disagree on: %s." % ", ".join(disagree))
            p("")
    p("## Per package")
    p("")
    p("| id | kind | does | Cisco findings | Cisco | amc findings | amc | format check |")
    p("|---|---|---|---|---|---|---|---|")
    for r in rows:
        p("| %s |" % " | ".join(esc(x) for x in r))
    p("")
    if manifest:
        p("## Extraction notes (what Cisco was given)")
        p("")
        for pid, notes in sorted(manifest.items()):
            p("- `%s`: %s" % (pid, "; ".join(esc(n) for n in notes)))
        p("")
    sys.stdout.write("\n".join(w) + "\n")


# Cisco does not validate the Agent Skills format as such. A format-invalid package counts as
# noticed when its result says something about the defect: the scan failed (no SKILL.md / no
# parsable manifest), or a finding of the manifest/policy kind other than the boilerplate
# "no license" and "short description", or one naming the defect (symlink, size, archive, path).
BOILERPLATE = {"MANIFEST_MISSING_LICENSE", "SOCIAL_ENG_VAGUE_DESCRIPTION"}
FORMAT_WORDS = ("MANIFEST", "NAME", "DESCRIPTION", "FRONTMATTER", "YAML", "SYMLINK", "LINK",
                "SIZE", "LARGE", "ARCHIVE", "PATH", "TRAVERSAL", "BINARY", "FILE_COUNT", "POLICY")


def cisco_notices(fs, status):
    if status != "ok":
        return "scan failed"
    hits = sorted({f[0] for f in fs if f[0] not in BOILERPLATE and
                   (f[2] == "policy_violation" or any(wd in str(f[0]).upper() for wd in FORMAT_WORDS))})
    return ", ".join(hits)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract")
    e.add_argument("corpus")
    e.add_argument("out")
    s = sub.add_parser("skill-dir")
    s.add_argument("dir")
    r = sub.add_parser("report")
    r.add_argument("--labels", required=True)
    r.add_argument("--extracted", required=True)
    r.add_argument("--out-dir", required=True)
    a = ap.parse_args()
    if a.cmd == "extract":
        extract(a.corpus, a.out)
    elif a.cmd == "skill-dir":
        print(skill_dir(a.dir))
    else:
        report(a)


if __name__ == "__main__":
    main()
