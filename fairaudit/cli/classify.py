"""``fairaudit classify`` and ``fairaudit diagnose``: the audits that work on embeddings
(classification heads on demographic splits; 2-D maps and probes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fairaudit.cli.loading import _load_embeddings


def cmd_classify(args: argparse.Namespace) -> int:
    from fairaudit.classification import classification_audit

    from fairaudit.common.files import check_output, save_outputs

    if args.json:
        check_output(args.json, name="--json")
    data = _load_embeddings(args.data)
    target = args.target[0] if len(args.target) == 1 else args.target
    result = classification_audit(data, target=target, by=args.by, head=args.head, split=args.split,
                                  size=args.size, n_seeds=args.seeds, test_size=args.test_size,
                                  random_state=args.seed)
    print(result.summary())
    if args.json:
        written = save_outputs([("--json", args.json, lambda p: result.to_json(p))])
        print(f"\nJSON written to {written[0]}")
    return 0


def cmd_diagnose(args: argparse.Namespace) -> int:
    from fairaudit.diagnostics import embedding_diagnostics
    from fairaudit.common.files import check_output, save_outputs

    check_output(args.out, name="--out", directory=True)
    data = _load_embeddings(args.data)
    result = embedding_diagnostics(data, by=args.by, method=args.method, n_samples=args.n_samples,
                                   random_state=args.seed)
    print(result.summary())

    def write(folder: Path) -> None:
        import matplotlib.pyplot as plt

        from fairaudit.common.figures import safe_filename

        folder.mkdir(parents=True, exist_ok=True)
        result.to_json(folder / "diagnostics.json")
        for column in [c for c in result.color_columns if c != "identity"]:
            ax = result.plot(column)
            try:
                ax.figure.savefig(folder / f"embedding_{safe_filename(column)}.png", dpi=120)
            finally:
                plt.close(ax.figure)

    written = save_outputs([("--out", args.out, write)])
    print(f"JSON and plots written to {written[0]}")
    return 0
