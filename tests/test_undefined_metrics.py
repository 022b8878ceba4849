"""Undefined numbers are stored as JSON null, never NaN or Infinity, on SQLite and PostgreSQL alike:
PostgreSQL's json refuses `NaN`, so a prm run whose scorer called no step a mistake (precision
undefined) once ended `failed` there after training."""
from __future__ import annotations

import math

from sqlalchemy import text

from db.finite_json import finite_json
from training.prm import grade
from tests.store_backends import pg_database, pg_url, store, store_url  # noqa: F401 (fixtures)


def test_finite_json_writes_nan_and_infinities_as_null_and_keeps_everything_else():
    value = {"a": math.nan, "b": [1.5, math.inf, {"c": -math.inf}], "d": (2, None), "e": "NaN", "f": 0.25}
    assert finite_json(value) == '{"a":null,"b":[1.5,null,{"c":null}],"d":[2,null],"e":"NaN","f":0.25}'
    assert finite_json([1, 2, 3]) == "[1,2,3]"  # the common case: compact, unchanged


def test_a_scorer_that_calls_no_step_a_mistake_has_undefined_precision_and_f1_not_nan():
    truth = [[True, False, True], [True, True]]
    scores = [[0.9, 0.8, 0.7], [0.9, 0.6]]  # every score is above the threshold: nothing called a mistake
    g = grade(scores, truth, threshold=0.5)
    assert (g["steps"], g["mistakes"]) == (5, 1)
    assert g["precision"] is None and g["f1"] is None  # 0 / 0: undefined
    assert g["recall"] == 0.0 and g["first_error_acc_error_paths"] == 0.0
    assert g["first_error_acc_clean_paths"] == 1.0 and g["first_error_f1"] == 0.0  # defined: 2 * 0 * 1 / 1
    only_good = grade([[0.9, 0.8]], [[True, True]])
    assert only_good["auc"] is None and only_good["recall"] is None  # no mistake at all to rank or find


def test_run_stats_with_nan_and_infinity_are_stored_as_null(store):
    graded = grade([[0.9, 0.8, 0.7]], [[True, False, True]])
    run = store.start_run("m", "prm", config={"threshold": 0.5, "budget": math.inf})
    store.finish_run(run, "done", {"graded": graded, "loss": math.nan, "curve": [1.0, math.inf, -math.inf]})
    got = store.get_run("m", "prm")
    assert got["status"] == "done"
    assert got["stats"]["loss"] is None and got["stats"]["curve"] == [1.0, None, None]
    assert got["stats"]["graded"]["precision"] is None and got["stats"]["graded"]["f1"] is None
    assert got["stats"]["graded"]["steps"] == 3 and got["config"]["budget"] is None
    with store.engine.connect() as conn:  # the stored text itself, as psql or sqlite3 shows it
        raw = conn.execute(text("SELECT CAST(stats AS TEXT), CAST(config AS TEXT) FROM runs WHERE id = :id"),
                           {"id": run}).one()
    assert "NaN" not in raw[0] + raw[1] and "Infinity" not in raw[0] + raw[1]
    assert '"precision":null' in raw[0].replace(" ", "")


def test_the_bulk_node_encoder_writes_nan_as_null_like_the_engine():
    """Waves bypass the engine's serializer (db/bulk.py's C encoder): a node state holding a NaN
    must still be JSON both backends accept."""
    from db.bulk import _NODE_COLUMNS, _node_params, encode_json

    assert encode_json({"value": math.nan, "ids": [1, 2]}) == '{"value":null,"ids":[1,2]}'
    assert encode_json([1.5, -math.inf]) == "[1.5,null]"
    assert encode_json({"ids": [1, 2]}) == finite_json({"ids": [1, 2]})   # the fast path, same text
    row = {**dict.fromkeys(_NODE_COLUMNS), "state": {"score": math.nan}, "token_ids": [3, 4]}
    (params,) = _node_params([row])
    assert '{"score":null}' in params and "NaN" not in "".join(p for p in params if isinstance(p, str))
