"""Medians, spreads and per-round ratios of recorded values.

A failed run is recorded as None and skipped, as the table counts rounds, not runs that
happened to succeed.
"""


def numbers(values):
    return sorted(v for v in values if v is not None)


def median(values):
    v = numbers(values)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def minv(values):
    v = numbers(values)
    return v[0] if v else None


def maxv(values):
    v = numbers(values)
    return v[-1] if v else None


def ratios(a, b):
    """a_i / b_i per round; None where either side failed or b is 0."""
    out = []
    for i, x in enumerate(a):
        y = b[i] if i < len(b) else None
        out.append(None if x is None or y is None or y == 0 else x / y)
    return out


def fmt(form, v):
    return "x" if v is None else form % v


def spread(form, values):
    """'median (min-max)', or x when no round succeeded; failed rounds are counted after."""
    med = median(values)
    if med is None:
        return "x"
    out = "%s (%s-%s)" % (form % med, form % minv(values), form % maxv(values))
    nx = sum(1 for v in values if v is None)
    return out + (", %d x" % nx if nx else "")
