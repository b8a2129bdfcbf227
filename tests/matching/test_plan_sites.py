"""planner.plan_sites: many sites at once gives exactly what planning each alone gives."""

import random
import threading
import time

import numpy as np
import pytest

from peercoach.matching import planner
from peercoach.matching.scoring import DEFAULT_WEIGHTS, Person

ERAS = ["vietnam", "gulf_war", "post_911", "korea", ""]
PAIN = ["low_back", "knee_oa", "neck", "shoulder", "hip_oa"]
LANGUAGES = ["en", "en", "en", "es"]


def people(rng: random.Random, n: int, start: int) -> list[Person]:
    return [Person(key=start + k, age=float(rng.randint(30, 85)),
                   service_era=rng.choice(ERAS), gender=rng.choice(["male", "female"]),
                   language=rng.choice(LANGUAGES),
                   pain=frozenset(rng.sample(PAIN, rng.randint(1, 3))),
                   modes=frozenset(rng.sample(["phone", "in_person", "video"], 1)),
                   zip_code=rng.choice(["46202", "46220", "47401", ""]))
            for k in range(n)]


def site(seed: int, n_patients: int, n_coaches: int) -> planner.Site:
    rng = random.Random(seed)
    caps = np.array([rng.randint(0, 2) for _ in range(n_coaches)], dtype=np.int64)
    dnp = np.zeros((n_patients, n_coaches), dtype=bool)
    if n_patients and n_coaches:
        dnp[rng.randrange(n_patients), rng.randrange(n_coaches)] = True
    return planner.Site(people(rng, n_patients, 0), people(rng, n_coaches, 1000), caps,
                        dict(DEFAULT_WEIGHTS), do_not_pair=dnp)


def alone(s: planner.Site) -> planner.PlanResult:
    return planner.plan(s.patients, s.coaches, s.capacities, s.weights,
                        do_not_pair=s.do_not_pair, rejected=s.rejected, facts=s.facts)


def summary(result: planner.PlanResult) -> tuple:
    return ([(p.patient, p.coach, p.score, p.explanation) for p in result.pairs],
            result.unmatched)


SITES = [site(seed, n_p, n_c) for seed, (n_p, n_c) in
         enumerate([(40, 25), (7, 3), (0, 4), (30, 30), (12, 0), (60, 20), (25, 40)])]


@pytest.mark.parametrize("workers,max_cells", [(1, 10**9), (3, 10**9), (3, 1), (2, 2000)])
def test_every_site_gets_exactly_the_plan_it_gets_alone(workers, max_cells):
    got = dict(planner.plan_sites(iter(SITES), workers=workers, max_cells=max_cells))
    assert sorted(got) == list(range(len(SITES)))
    for index, s in enumerate(SITES):
        assert summary(got[index]) == summary(alone(s))
    assert any(got[i].pairs for i in got)  # the check above compared real pairs


def test_sites_together_stay_under_the_cell_budget(monkeypatch):
    """A site starts only while those running fit the budget; a bigger one runs alone."""
    running: list[int] = []
    seen_together: list[int] = []
    lock = threading.Lock()
    real_plan_site = planner.plan_site

    def watched(s: planner.Site) -> planner.PlanResult:
        with lock:
            running.append(s.cells)
            seen_together.append(sum(running))
        try:
            time.sleep(0.02)  # long enough for the other workers to start what they may
            return real_plan_site(s)
        finally:
            with lock:
                running.remove(s.cells)

    monkeypatch.setattr(planner, "plan_site", watched)
    budget = 1500
    sites = ([site(99, 80, 60)] + [site(seed, 40, 30) for seed in range(4)]
             + [site(seed, 4, 3) for seed in range(6)])
    cells = [s.cells for s in sites]
    assert cells[0] > budget > max(cells[1:])  # one site over the budget, the rest under
    results = dict(planner.plan_sites(sites, workers=3, max_cells=budget))
    assert sorted(results) == list(range(len(sites)))
    assert cells[0] in seen_together  # the big one ran, and alone (nothing added to it)
    assert all(total <= budget for total in seen_together if total != cells[0])
    assert any(total not in cells for total in seen_together)  # sites did run together


def test_an_error_in_one_site_reaches_the_caller():
    bad = planner.Site(SITES[0].patients, SITES[0].coaches, [-1] * len(SITES[0].coaches),
                       dict(DEFAULT_WEIGHTS))
    with pytest.raises(ValueError, match="capacities must not be negative"):
        list(planner.plan_sites([SITES[1], bad, SITES[3]], workers=2))


def test_sites_are_read_only_a_few_ahead_of_the_workers():
    pulled = []

    def source():
        for index, s in enumerate(SITES * 4):
            pulled.append(index)
            yield s

    stream = planner.plan_sites(source(), workers=1)
    next(stream)
    assert len(pulled) <= 4 + 1  # lookahead of 4 per worker, plus the one being planned
    assert len(list(stream)) == len(SITES) * 4 - 1


def test_ruled_out_pairs_may_be_given_as_index_pairs():
    s = SITES[0]
    as_pairs = np.argwhere(s.do_not_pair)
    assert len(as_pairs) == 1
    by_pairs = planner.plan(s.patients, s.coaches, s.capacities, s.weights,
                            do_not_pair=as_pairs, rejected=[(0, 1), (2, 3)])
    mask = np.zeros_like(s.do_not_pair)
    mask[[0, 2], [1, 3]] = True
    by_masks = planner.plan(s.patients, s.coaches, s.capacities, s.weights,
                            do_not_pair=s.do_not_pair, rejected=mask)
    assert summary(by_pairs) == summary(by_masks)
    chosen = {(p.patient, p.coach) for p in by_pairs.pairs}
    assert not chosen & {(0, 1), (2, 3), tuple(as_pairs[0])}


@pytest.mark.parametrize("bad,message", [
    ([(0, 99)], "outside 40 patients x 25 coaches"),
    ([(-1, 0)], "outside"),
    (np.zeros((3, 3), dtype=bool), r"must be \(40, 25\)"),
])
def test_ruled_out_pairs_outside_the_site_are_refused(bad, message):
    s = SITES[0]
    with pytest.raises(ValueError, match=message):
        planner.plan(s.patients, s.coaches, s.capacities, s.weights, rejected=bad)
