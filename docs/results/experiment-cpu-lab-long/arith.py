import re, sqlite3, sys
from fractions import Fraction
OP = re.compile(r"(\d+)\s*([-+*/])\s*(\d+)\s*=\s*(\d+)")
def ok(a, op, b, c):
    a, b, c = int(a), int(b), int(c)
    if op == "/":
        return b != 0 and Fraction(a, b) == c
    return {"+": a + b, "-": a - b, "*": a * b}[op] == c
db = sqlite3.connect(sys.argv[1])
for model, in db.execute("select distinct model from evals"):
    good = total = 0
    for (text,) in db.execute("select prediction from evals where model=?", (model,)):
        think = text.split("</think>")[0]
        lines = [l for l in think.split("\n") if ("Exploring Operation" in l) or ("Left:" in l)]
        for l in lines:
            m = OP.search(l)
            if m:
                total += 1; good += ok(*m.groups())
    print(f"{model}: {good} of {total} operations right ({100*good/max(total,1):.1f}%)")
