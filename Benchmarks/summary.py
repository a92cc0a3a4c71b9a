"""What the benchmark scripts share about the harness's summary.txt: lines of `system=… metric=… value=…`."""
import collections
import statistics


def read(path):
    """Every numeric value by (system, metric), in the order the runs printed them."""
    values = collections.defaultdict(list)
    for line in open(path):
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if not {"system", "metric", "value"} <= fields.keys():
            continue
        try:
            value = float(fields["value"])
        except ValueError:
            continue
        values[(fields["system"], fields["metric"])].append(value)
    return values


def summed(values, system, metrics):
    """(median, min, max) of `system`'s metrics, each summed over `metrics` (forward plus reverse); None if one
    is missing."""
    parts = [values.get((system, metric)) for metric in metrics]
    if not all(parts):
        return None
    return tuple(sum(f(part) for part in parts) for f in (statistics.median, min, max))


def number(value):
    """A figure as the tables print it: no decimals from 100, one from 10, two below."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"
