"""Fill a PostgreSQL database with a synthetic, national-scale PeerCoach deployment.

Everything here is invented: names are drawn from made-up lists, phone numbers are
+1317555xxxx, e-mail addresses are @example.org. Nothing is derived from real people.

    python benchmarks/generate.py \\
        --database-url postgres://postgres@127.0.0.1:5432/peercoach_bench \\
        --sites 150 --patients 100000 --coaches 40000 --reset

What it makes (all numbers scale with the arguments):

* `--sites` sites of uneven size (a few big medical centers, many small clinics), each
  with one program made from the IMPPRESS template;
* per site: one coordinator (`bench_coord_<n>`), one supervisor, two referring clinicians,
  each with a RoleAssignment;
* `bench_coordinator` holding the coordinator role at every site, and
  `bench_coordinator_one_site` holding it at the largest site only;
* `--patients` patients and `--coaches` coaches spread over the sites with a realistic
  mix of statuses;
* current pairs (Match with no end) for most active patients, never more per coach than
  the coach's capacity (the program's caseload of 2, or 1 for coaches who chose 1), plus
  ended pairs for many patients who completed, withdrew or were lost;
* with `--contacts N` (off by default): a login for every coach who has coached, and per
  pair a contact plan (dates from `coaching.schedule.make_plan`), about N contacts in all
  within the pair's dates, planned contacts done or still planned, goals, goal changes
  and check-ins (see benchmarks/README.md).
* with `--all-active` (or `--active-share F`, `--paired-share F`): every patient (a share
  F) active and with a current coach, for the alert scan's target of 100,000 active
  patients; give about 1.2 coaches per patient so that there are places for all.

Rows go in with COPY (psycopg 3 `cursor.copy()`), so study ids, which `Patient.save()`
would otherwise make, are generated here (unique, same alphabet and shape).

Without `--reset` the script migrates and, if benchmark data is already there, stops
without changing anything; `--reset` drops the `public` schema first and starts afresh.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/peercoach_bench"
#: Password of every bench_* account (they exist only in a throwaway benchmark database).
BENCH_PASSWORD = "peercoach-bench-not-secret"
SITE_CODE_PREFIX = "bench-"
STUDY_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

# --- Invented vocabulary ------------------------------------------------------------

FIRST_NAMES = [
    "James", "Maria", "Robert", "Linda", "Michael", "Patricia", "William", "Barbara", "David",
    "Elizabeth", "Richard", "Jennifer", "Joseph", "Susan", "Thomas", "Dorothy", "Charles",
    "Karen", "Daniel", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Donald", "Ruth",
    "Steven", "Sharon", "Paul", "Michelle", "Andrew", "Laura", "Joshua", "Sarah", "Kenneth",
    "Kimberly", "Kevin", "Deborah", "Brian", "Jessica", "George", "Shirley", "Timothy",
    "Cynthia", "Ronald", "Angela", "Edward", "Melissa", "Jason", "Brenda", "Jeffrey", "Amy",
    "Ryan", "Anna", "Jacob", "Rebecca", "Gary", "Virginia", "Nicholas", "Kathleen", "Eric",
    "Pamela", "Jonathan", "Martha", "Stephen", "Debra", "Larry", "Amanda", "Justin",
    "Stephanie", "Scott", "Carolyn", "Brandon", "Christine", "Benjamin", "Marie", "Samuel",
    "Janet", "Gregory", "Catherine", "Frank", "Frances", "Raymond", "Ann", "Alexander",
    "Joyce", "Patrick", "Diane", "Jack", "Alice", "Dennis", "Julie", "Jerry", "Heather",
    "Tyler", "Teresa", "Aaron", "Doris", "Jose", "Gloria", "Adam", "Evelyn", "Henry", "Jean",
    "Nathan", "Cheryl", "Douglas", "Mildred", "Zachary", "Katherine", "Peter", "Joan",
    "Kyle", "Ashley", "Walter", "Judith", "Ethan", "Rose", "Jeremy", "Janice", "Harold",
    "Kelly", "Keith", "Nicole", "Christian", "Judy", "Roger", "Christina", "Noah", "Kathy",
    "Gerald", "Theresa", "Carl", "Beverly", "Terry", "Denise", "Sean", "Tammy", "Austin",
    "Irene", "Arthur", "Jane", "Lawrence", "Lori", "Jesse", "Rachel", "Dylan", "Marilyn",
    "Bryan", "Andrea", "Joe", "Kathryn", "Jordan", "Louise", "Billy", "Sara", "Bruce", "Anne",
    "Albert", "Jacqueline", "Willie", "Wanda", "Gabriel", "Bonnie", "Logan", "Julia", "Alan",
    "Ruby", "Juan", "Lois", "Wayne", "Tina", "Roy", "Phyllis", "Ralph", "Norma", "Randy",
    "Paula", "Eugene", "Diana", "Vincent", "Annie", "Russell", "Lillian", "Elijah", "Emily",
    "Louis", "Robin", "Bobby", "Peggy", "Philip", "Crystal", "Johnny", "Gladys", "Lamar",
    "Keisha", "Tomas", "Lucia", "Hiroshi", "Mei", "Chinedu", "Amara", "Dmitri", "Svetlana",
]
_LAST_REAL = [
    "Alvarez", "Brooks", "Castillo", "Dawson", "Ellison", "Fairbanks", "Gaines", "Holloway",
    "Iverson", "Jennings", "Kowalski", "Lindqvist", "Mercer", "Nakamura", "Okafor", "Pruitt",
    "Quinlan", "Rasmussen", "Sandoval", "Thibodeaux", "Underwood", "Vance", "Whitfield",
    "Yates", "Zimmerman", "Abernathy", "Beaumont", "Calloway", "Delgado", "Espinoza",
    "Fitzgerald", "Gallagher", "Hernandez", "Ishikawa", "Jablonski", "Kaminski", "Lozano",
    "Montoya", "Novak", "Oyelaran", "Petrovic", "Quintero", "Romero", "Sorensen", "Tanaka",
    "Ulloa", "Valdez", "Washington", "Xiong", "Yamamoto", "Zapata", "Adeyemi", "Bergstrom",
    "Chavez", "Dubois", "Eriksen", "Ferreira", "Grabowski", "Haddad", "Ibarra", "Jovanovic",
    "Kaur", "Lachance", "Medina", "Nguyen", "Obregon", "Pham", "Reyes", "Santiago", "Tran",
    "Vargas", "Wojcik", "Yilmaz", "Zielinski", "Begay", "Tsosie", "Yazzie", "Kealoha",
]
_LAST_PREFIX = [
    "Ash", "Black", "Brook", "Carl", "Dal", "Fair", "Glen", "Hart", "Hol", "Kings", "Lang",
    "Mar", "North", "Oak", "Pem", "Red", "Ross", "Stan", "Thorn", "Wal", "West", "Whit",
    "Wood", "Ell", "Brad", "Cald", "Dun", "Fen", "Gar", "Hay",
]
_LAST_SUFFIX = ["ford", "wood", "ton", "ley", "field", "well", "by", "man", "son", "ridge",
                "worth", "ham"]
LAST_NAMES = _LAST_REAL + [p + s for p in _LAST_PREFIX for s in _LAST_SUFFIX]

CITY_PARTS = (
    ["Maple", "Cedar", "River", "Lake", "Spring", "Pine", "Granite", "Willow", "Clear",
     "Silver", "Elm", "Harbor", "Prairie", "Summit", "Falcon", "Copper", "Iron", "Bay",
     "Sand", "Red"],
    ["ton", "ville", " Falls", "field", " Springs", "port", " Crossing", "dale", " Ridge",
     " Hills"],
)
STATES = [
    ("IN", "America/Indiana/Indianapolis"), ("OH", "America/New_York"),
    ("IL", "America/Chicago"), ("TX", "America/Chicago"), ("CA", "America/Los_Angeles"),
    ("AZ", "America/Phoenix"), ("CO", "America/Denver"), ("NY", "America/New_York"),
    ("FL", "America/New_York"), ("WA", "America/Los_Angeles"), ("GA", "America/New_York"),
    ("MN", "America/Chicago"), ("NC", "America/New_York"), ("PA", "America/New_York"),
    ("MO", "America/Chicago"), ("NM", "America/Denver"), ("HI", "Pacific/Honolulu"),
    ("AK", "America/Anchorage"),
]
SITE_KINDS = ["VA Medical Center", "VA Health Care System", "VA Community Clinic",
              "VA Outpatient Clinic"]
STREETS = ["Elm", "Oak", "Main", "Maple", "Washington", "Lincoln", "Park", "Lake", "Hill",
           "Jefferson", "Cedar", "Pine", "Sunset", "Ridge", "Veterans", "Liberty"]
STREET_KINDS = ["Street", "Avenue", "Road", "Drive", "Lane", "Court", "Way"]

PATIENT_STATUS_MIX = [  # (status, share): a mature program several years in
    ("referred", 0.10), ("eligible", 0.05), ("not_eligible", 0.06), ("consented", 0.03),
    ("enrolled", 0.06), ("active", 0.34), ("completed", 0.22), ("withdrawn", 0.08),
    ("lost", 0.06),
]
COACH_STATUS_MIX = [
    ("candidate", 0.10), ("in_training", 0.08), ("active", 0.58), ("paused", 0.09),
    ("retired", 0.15),
]
#: Share of active patients that have a current coach (the rest wait to be paired).
PAIRED_SHARE_OF_ACTIVE = 0.9
#: Share of completed, withdrawn or lost patients whose (ended) pair is on record.
ENDED_PAIR_SHARE = 0.75
END_REASONS = {
    "completed": "Finished all 8 contacts",
    "withdrawn": "Withdrew from the program",
    "lost": "No answer to calls or letters for 6 weeks",
}
ERAS = [("vietnam", 75), ("post_vietnam", 64), ("gulf_war", 55), ("post_911", 40),
        ("korea", 90)]
ERA_WEIGHTS = [30, 15, 25, 28, 2]


# --- Small helpers ------------------------------------------------------------------


class Timer:
    def __init__(self) -> None:
        self.phases: list[tuple[str, float]] = []
        self.start = time.perf_counter()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        print(f"  {name} ...", end="", flush=True)
        yield
        took = time.perf_counter() - began
        self.phases.append((name, took))
        print(f" {took:.1f} s", flush=True)

    def total(self) -> float:
        return time.perf_counter() - self.start


def with_db_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def ensure_database(url: str) -> bool:
    """Create the database named in `url` unless it exists. Returns True if created."""
    import psycopg
    from psycopg import sql

    name = db_name(url)
    if not name:
        raise SystemExit("The database URL names no database.")
    with psycopg.connect(with_db_name(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def reset_schema(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peercoach.config.settings")
    import django

    django.setup()


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` into integer parts proportional to `weights` (largest remainder)."""
    scale = sum(weights)
    raw = [total * w / scale for w in weights]
    parts = [math.floor(r) for r in raw]
    short = total - sum(parts)
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)[:short]:
        parts[i] += 1
    return parts


def study_ids(rng: random.Random, prefix: str, count: int, taken: set[str]) -> list[str]:
    """`count` new unique study ids shaped like `new_study_id` makes them."""
    out: list[str] = []
    while len(out) < count:
        code = prefix + "-" + "".join(rng.choices(STUDY_ID_ALPHABET, k=8))
        if code not in taken:
            taken.add(code)
            out.append(code)
    return out


def pick_status(rng: random.Random, mix: list[tuple[str, float]], n: int) -> list[str]:
    statuses = [s for s, _ in mix]
    counts = allocate(n, [w for _, w in mix])
    out = [s for s, c in zip(statuses, counts, strict=True) for _ in range(c)]
    rng.shuffle(out)
    return out


def other_columns(model: Any, columns: Sequence[str]) -> tuple[list[str], list[Any]]:
    """The model's other columns and a constant value for each (its default, or NULL).

    The models grow while this script stays the same; Django keeps defaults in Python,
    not in the database, so a COPY that left a new NOT NULL column out would fail.
    """
    names, values = [], []
    for field in model._meta.concrete_fields:
        if field.column in columns:
            continue
        value = field.get_default() if field.has_default() else None
        if value is None and not field.null:
            value = "" if field.get_internal_type() in {"CharField", "TextField"} else value
        if isinstance(value, dict | list):
            value = json.dumps(value)
        names.append(field.column)
        values.append(value)
    return names, values


def copy_rows(cur: Any, model: Any, columns: Sequence[str],
              rows: Iterable[Sequence[Any]]) -> int:
    """COPY `rows` into the model's table; returns how many went in."""
    extra_names, extra_values = other_columns(model, columns)
    quoted = ", ".join(f'"{name}"' for name in [*columns, *extra_names])  # "when" is reserved
    statement = f"COPY {model._meta.db_table} ({quoted}) FROM STDIN"
    count = 0
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row([*row, *extra_values])
            count += 1
    return count


def set_sequence(cur: Any, table: str) -> None:
    cur.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        f"GREATEST((SELECT MAX(id) FROM {table}), 1))"
    )


# --- The generator ------------------------------------------------------------------


def status_mix(active_share: float | None) -> list[tuple[str, float]]:
    """PATIENT_STATUS_MIX with `active_share` of patients active, the other statuses
    scaled down (or up) in proportion; None keeps the mix as it is."""
    if active_share is None:
        return PATIENT_STATUS_MIX
    if not 0 <= active_share <= 1:
        raise ValueError("the share of active patients must be between 0 and 1")
    others = sum(w for s, w in PATIENT_STATUS_MIX if s != "active")
    scale = (1 - active_share) / others
    return [(s, active_share if s == "active" else w * scale) for s, w in PATIENT_STATUS_MIX]


class Generator:
    def __init__(self, *, sites: int, patients: int, coaches: int, seed: int,
                 active_share: float | None = None,
                 paired_share: float = PAIRED_SHARE_OF_ACTIVE) -> None:
        self.n_sites = sites
        self.n_patients = patients
        self.n_coaches = coaches
        self.patient_mix = status_mix(active_share)
        self.paired_share = paired_share
        self.rng = random.Random(seed)
        self.now = dt.datetime.now(dt.UTC)
        self.today = self.now.date()
        self.last_weights = [1 / (rank + 1) ** 0.7 for rank in range(len(LAST_NAMES))]
        self.first_weights = [1 / (rank + 1) ** 0.5 for rank in range(len(FIRST_NAMES))]
        self.rng.shuffle(self.last_weights)
        self.taken_ids: set[str] = set()
        # Filled as we go.
        self.sites: list[dict[str, Any]] = []  # id, program_id, city, state, size
        self.patients: list[tuple[int, int, str, dt.date | None]] = []  # id, site, status, enr
        self.coaches: list[tuple[int, int, str, int]] = []  # id, site, status, capacity
        #: Every pair made: id, patient id, coach id, site index, start, end, end reason.
        self.pairs: list[tuple[int, int, int, int, dt.date, dt.date | None, str]] = []
        self.counts: dict[str, int] = {}

    # Sites, programs, staff ----------------------------------------------------------

    def make_sites(self) -> None:
        from peercoach.programs.models import Program, Site
        from peercoach.programs.protocols import IMPPRESS

        rng = self.rng
        weights = [rng.lognormvariate(0, 0.7) for _ in range(self.n_sites)]
        used: set[str] = set()
        site_rows = []
        for i in range(self.n_sites):
            city = rng.choice(CITY_PARTS[0]) + rng.choice(CITY_PARTS[1])
            state, tz = rng.choice(STATES)
            name = f"{city} {rng.choice(SITE_KINDS)}"
            if name in used:
                name = f"{name} {i + 1}"
            used.add(name)
            site_rows.append(Site(code=f"{SITE_CODE_PREFIX}{i + 1:03d}", name=name, timezone=tz))
            self.sites.append({"city": city, "state": state, "weight": weights[i]})
        created = Site.objects.bulk_create(site_rows)
        programs = [Program(site=site, name="Peer pain coaching", **IMPPRESS.program_fields())
                    for site in created]
        for program in programs[:1]:
            program.full_clean()
        Program.objects.bulk_create(programs)
        for info, site, program in zip(self.sites, created, programs, strict=True):
            info["id"] = site.pk
            info["program_id"] = program.pk
        self.counts["sites"] = len(created)
        self.counts["programs"] = len(programs)

    def make_staff(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import make_password

        from peercoach.core.models import Role, RoleAssignment

        User = get_user_model()
        password = make_password(BENCH_PASSWORD)  # one hash for all: only a benchmark
        rng = self.rng
        users: list[Any] = []
        plan: list[tuple[int, str, list[int]]] = []  # user index, role, site indices

        def user(username: str, first: str, last: str) -> int:
            users.append(User(username=username, first_name=first, last_name=last,
                              email=f"{username}@example.org", password=password,
                              date_joined=self.now))
            return len(users) - 1

        for s in range(self.n_sites):
            n = s + 1
            plan.append((user(f"bench_coord_{n:03d}", rng.choice(FIRST_NAMES),
                              rng.choice(LAST_NAMES)), Role.COORDINATOR, [s]))
            plan.append((user(f"bench_super_{n:03d}", rng.choice(FIRST_NAMES),
                              rng.choice(LAST_NAMES)), Role.SUPERVISOR, [s]))
            for k in (1, 2):
                plan.append((user(f"bench_clin_{n:03d}_{k}", "Dr. " + rng.choice(FIRST_NAMES),
                                  rng.choice(LAST_NAMES)), Role.CLINICIAN, [s]))
        largest = max(range(self.n_sites), key=lambda s: self.sites[s]["weight"])
        plan.append((user("bench_coordinator", "Nat", "Coordinator"), Role.COORDINATOR,
                     list(range(self.n_sites))))
        plan.append((user("bench_coordinator_one_site", "Solo", "Coordinator"),
                     Role.COORDINATOR, [largest]))
        User.objects.bulk_create(users, batch_size=1000)
        assignments = [RoleAssignment(user=users[u], role=role, site_id=self.sites[s]["id"])
                       for u, role, site_indices in plan for s in site_indices]
        RoleAssignment.objects.bulk_create(assignments, batch_size=1000)
        for s, info in enumerate(self.sites):
            info["coordinator_id"] = users[plan[s * 4][0]].pk
            info["clinicians"] = [(users[plan[s * 4 + k][0]].pk,
                                   f"{users[plan[s * 4 + k][0]].first_name} "
                                   f"{users[plan[s * 4 + k][0]].last_name}") for k in (2, 3)]
        self.largest_site = largest
        self.counts["users"] = len(users)
        self.counts["role_assignments"] = len(assignments)

    # People ---------------------------------------------------------------------------

    def _site_of_each(self, total: int, jitter: float) -> list[int]:
        rng = self.rng
        weights = [info["weight"] * rng.uniform(1 - jitter, 1 + jitter) for info in self.sites]
        parts = allocate(total, weights)
        out = [s for s, c in enumerate(parts) for _ in range(c)]
        rng.shuffle(out)  # ids interleave across sites, as they would over time
        return out

    def _profile(self, site: int, serial: int) -> list[Any]:
        """The PersonProfile columns (in PROFILE_COLUMNS order)."""
        rng = self.rng
        info = self.sites[site]
        first = rng.choices(FIRST_NAMES, self.first_weights)[0]
        last = rng.choices(LAST_NAMES, self.last_weights)[0]
        era, age = rng.choices(ERAS, ERA_WEIGHTS)[0]
        born = self.today - dt.timedelta(days=365 * (age + rng.randint(-5, 5))
                                         + rng.randint(0, 364))
        gender = rng.choices(["male", "female", "nonbinary", "undisclosed", ""],
                             [80, 15, 1, 2, 2])[0]
        conditions = rng.sample(["low_back", "neck", "knee_oa", "hip_oa", "shoulder",
                                 "widespread", "other"], k=rng.choice([1, 1, 2, 2, 3]))
        challenges = rng.sample(["weight", "sleep", "mood", "caregiving", "work", "money",
                                 "mobility", "transport"], k=rng.randint(0, 3))
        modes = rng.choice([["phone"], ["phone"], ["phone", "in_person"], ["in_person"]])
        times = rng.sample(["morning", "afternoon", "evening", "weekend"], k=rng.randint(1, 2))
        return [
            first, last,
            rng.choice(["", "", "", "", "", "", "", first[:3]]),  # preferred_name
            born,
            f"+1317555{rng.randint(0, 9999):04d}",
            f"{first}.{last}.{serial}@example.org".lower(),
            f"{rng.randint(1, 9999)} {rng.choice(STREETS)} {rng.choice(STREET_KINDS)}",
            info["city"], info["state"], f"{rng.randint(10000, 99999)}",
            json.dumps(modes), json.dumps(times),
            rng.choices(["en", "es", "other"], [88, 10, 2])[0],
            gender,
            rng.random() < 0.97,  # is_veteran
            rng.choice(["army", "army", "navy", "air_force", "marine_corps", "coast_guard",
                        "national_guard"]),
            era, json.dumps(conditions), json.dumps(challenges),
            1,  # version
        ]

    PROFILE_COLUMNS = (
        "first_name", "last_name", "preferred_name", "date_of_birth", "phone", "email",
        "address_line", "city", "state", "zip_code", "preferred_contact_modes",
        "preferred_contact_times", "language", "gender", "is_veteran", "branch",
        "service_era", "pain_conditions", "life_challenges", "version",
    )

    def _patient_dates(self, status: str) -> tuple[dt.date, dt.date | None, dt.datetime]:
        """referred_on, enrolled_on, status_changed_at for a patient in `status`."""
        rng = self.rng
        days = {
            "referred": (1, 45), "eligible": (10, 90), "not_eligible": (10, 900),
            "consented": (20, 100), "enrolled": (25, 120), "active": (40, 200),
            "completed": (160, 1400), "withdrawn": (20, 1400), "lost": (60, 1400),
        }[status]
        referred = self.today - dt.timedelta(days=rng.randint(*days))
        enrolled = None
        changed = referred + dt.timedelta(days=rng.randint(0, 10))
        if status in {"enrolled", "active", "completed", "lost"} or (
            status == "withdrawn" and rng.random() < 0.5
        ):
            enrolled = min(referred + dt.timedelta(days=rng.randint(15, 35)), self.today)
            changed = enrolled
            after = {"active": (3, 20), "completed": (120, 150), "lost": (20, 120),
                     "withdrawn": (10, 120)}.get(status)
            if after:
                changed = enrolled + dt.timedelta(days=rng.randint(*after))
        changed = min(changed, self.today)
        moment = dt.datetime.combine(changed, dt.time(hour=rng.randint(8, 17)), tzinfo=dt.UTC)
        return referred, enrolled, moment

    def make_patients(self, cur: Any) -> None:
        from peercoach.people.models import Patient

        rng = self.rng
        site_of = self._site_of_each(self.n_patients, jitter=0.0)
        statuses = pick_status(rng, self.patient_mix, self.n_patients)
        codes = study_ids(rng, "P", self.n_patients, self.taken_ids)
        columns = (
            "id", "created_at", "updated_at", *self.PROFILE_COLUMNS, "program_id", "study_id",
            "status", "status_changed_at", "coach_gender_preference", "referral_source",
            "referred_by_id", "referring_clinician_name", "referred_on", "referral_reason",
            "external_ref", "enrolled_on",
        )

        def rows() -> Iterator[list[Any]]:
            for i in range(self.n_patients):
                pk = i + 1
                site, status = site_of[i], statuses[i]
                info = self.sites[site]
                referred, enrolled, changed = self._patient_dates(status)
                source = rng.choices(["clinician", "self", "import"], [60, 30, 10])[0]
                referred_by, clinician_name, external = None, "", ""
                if source == "clinician":
                    referred_by, clinician_name = rng.choice(info["clinicians"])
                elif source == "import":
                    external = f"EHR-{pk:07d}"
                created = dt.datetime.combine(referred, dt.time(9), tzinfo=dt.UTC)
                self.patients.append((pk, site, status, enrolled))
                yield [
                    pk, created, changed, *self._profile(site, pk), info["program_id"],
                    codes[i], status, changed,
                    rng.choices(["", "male", "female"], [80, 12, 8])[0], source, referred_by,
                    clinician_name, referred, "Chronic pain; interested in peer support.",
                    external, enrolled,
                ]

        self.counts["patients"] = copy_rows(cur, Patient, columns, rows())
        set_sequence(cur, "people_patient")

    def make_coaches(self, cur: Any) -> None:
        from peercoach.people.models import Coach

        rng = self.rng
        site_of = self._site_of_each(self.n_coaches, jitter=0.15)
        statuses = pick_status(rng, COACH_STATUS_MIX, self.n_coaches)
        codes = study_ids(rng, "C", self.n_coaches, self.taken_ids)
        # A few coaches are former patients of the same site who completed the program.
        completed_by_site: dict[int, list[int]] = {}
        for pk, site, status, _ in self.patients:
            if status == "completed":
                completed_by_site.setdefault(site, []).append(pk)
        for pool in completed_by_site.values():
            rng.shuffle(pool)
        columns = (
            "id", "created_at", "updated_at", *self.PROFILE_COLUMNS, "program_id", "study_id",
            "status", "status_changed_at", "capacity", "completed_self_management_program",
            "former_patient_id",
        )

        def rows() -> Iterator[list[Any]]:
            for i in range(self.n_coaches):
                pk = i + 1
                site, status = site_of[i], statuses[i]
                # Most coaches take the program's default (2); some chose one patient.
                capacity = 1 if rng.random() < 0.15 else None
                former = None
                pool = completed_by_site.get(site)
                if pool and rng.random() < 0.04:
                    former = pool.pop()
                joined = self.today - dt.timedelta(days=rng.randint(10, 1500))
                changed = dt.datetime.combine(
                    min(joined + dt.timedelta(days=rng.randint(0, 60)), self.today),
                    dt.time(10), tzinfo=dt.UTC)
                self.coaches.append((pk, site, status, capacity or 2))
                yield [
                    pk, dt.datetime.combine(joined, dt.time(9), tzinfo=dt.UTC), changed,
                    *self._profile(site, pk), self.sites[site]["program_id"], codes[i], status,
                    changed, capacity, status in {"active", "paused", "retired"}
                    or rng.random() < 0.5, former,
                ]

        self.counts["coaches"] = copy_rows(cur, Coach, columns, rows())
        set_sequence(cur, "people_coach")

    def make_matches(self, cur: Any) -> None:
        from peercoach.matching.models import Match

        rng = self.rng
        coaches_by_site: dict[int, list[tuple[int, str, int]]] = {}
        for pk, site, status, capacity in self.coaches:
            coaches_by_site.setdefault(site, []).append((pk, status, capacity))
        patients_by_site: dict[int, list[tuple[int, str, dt.date | None]]] = {}
        for pk, site, status, enrolled in self.patients:
            patients_by_site.setdefault(site, []).append((pk, status, enrolled))
        columns = ("id", "created_at", "updated_at", "patient_id", "coach_id", "started_on",
                   "ended_on", "end_reason", "source", "note", "created_by_id", "ended_by_id")
        current = ended = 0
        unpaired_active = 0

        def rows() -> Iterator[list[Any]]:
            nonlocal current, ended, unpaired_active
            pk = 0
            for site in range(self.n_sites):
                by = self.sites[site]["coordinator_id"]
                coaches = coaches_by_site.get(site, [])
                slots = [c for c, status, cap in coaches if status == "active"
                         for _ in range(cap)]
                rng.shuffle(slots)
                past = [c for c, status, _ in coaches if status in {"active", "paused", "retired"}]
                for patient, status, enrolled in patients_by_site.get(site, []):
                    start = enrolled or self.today - dt.timedelta(days=30)
                    start = min(start + dt.timedelta(days=rng.randint(3, 20)), self.today)
                    if status == "active":
                        if not slots or rng.random() >= self.paired_share:
                            unpaired_active += 1
                            continue
                        coach = slots.pop()
                        end, reason, ended_by = None, "", None
                        current += 1
                    elif status in END_REASONS and past and rng.random() < ENDED_PAIR_SHARE:
                        coach = rng.choice(past)
                        end = min(start + dt.timedelta(days=rng.randint(20, 130)), self.today)
                        reason, ended_by = END_REASONS[status], by
                        ended += 1
                    else:
                        continue
                    pk += 1
                    self.pairs.append((pk, patient, coach, site, start, end, reason))
                    moment = dt.datetime.combine(start, dt.time(11), tzinfo=dt.UTC)
                    yield [pk, moment, moment, patient, coach, start, end, reason,
                           rng.choice(["manual", "proposed"]), "", by, ended_by]

        copy_rows(cur, Match, columns, rows())
        set_sequence(cur, "matching_match")
        self.counts["matches_current"] = current
        self.counts["matches_ended"] = ended
        self.counts["active_patients_unpaired"] = unpaired_active


# --- Delivering the program: coach accounts, contact plans, contacts, goals ----------

#: Coaches in these statuses have coached (or are about to), so they get an account.
COACH_USER_STATUSES = {"active", "paused", "retired"}
#: Outcome mix of the attempts logged besides the planned contacts.
EXTRA_OUTCOMES = [("reached", 68), ("no_answer", 18), ("left_message", 10),
                  ("patient_cancelled", 1), ("wrong_number", 1), ("coach_cancelled", 1),
                  ("no_show", 1)]
#: Outcome mix of the unsuccessful tries before a planned contact, and of a quiet pair's.
FAILED_OUTCOMES = [("no_answer", 60), ("left_message", 35), ("patient_cancelled", 3),
                   ("wrong_number", 2)]
#: Ways of trying, per outcome (each within coaching.services.OUTCOME_MODES); narrowed to
#: the program's allowed modes when that leaves any.
OUTCOME_MODE_WEIGHTS = {
    "reached": {"phone": 75, "in_person": 17, "video": 6, "text": 2},
    "no_answer": {"phone": 88, "text": 8, "video": 4},
    "left_message": {"phone": 90, "text": 10},
    "wrong_number": {"phone": 1},
    "patient_cancelled": {"phone": 70, "in_person": 30},
    "coach_cancelled": {"phone": 70, "in_person": 30},
    "no_show": {"in_person": 80, "video": 20},
}
#: Chance that a planned contact already due was done, and the one whose window is open.
DONE_SHARE, IN_PROGRESS_DONE_SHARE = 0.9, 0.35
#: Share of done contacts made the day after their window closed (late, still counted).
LATE_SHARE = 0.08
#: Share of current pairs (running 40 days or more) that went quiet 15 to 40 days ago.
QUIET_SHARE = 0.10
CURRICULUM_PERCENTS = ([0, 25, 50, 75, 100], [5, 20, 35, 25, 15])
CONTACT_NOTES = ["Good talk; walking most days.", "Rough week, pain up after yard work.",
                 "Talked about sleep.", "Wants to try the breathing exercise again.",
                 "Mentioned the VA pain class.", "Family visiting; shorter call."]
CONCERNS = ["Worried about an upcoming appointment.", "Money is tight this month.",
            "Feeling low since the weather turned."]
GOAL_WHAT = ["Walk around the block", "Stretch before bed", "Do the breathing exercise",
             "Call a friend", "Split the chores into short blocks", "Note pain and mood"]
GOAL_HOW_MUCH = ["10 minutes", "15 minutes", "Once", "3 rounds", "One page", "Half the chores"]
GOAL_WHEN = ["After breakfast", "Before bed", "After lunch", "When pain flares",
             "In the evening"]
GOAL_HOW_OFTEN = ["Every day", "5 days a week", "3 times a week", "Twice a week"]
PROGRESS_MIX = (["not_started", "some", "most", "all"], [15, 35, 30, 20])
#: Final status of a goal: while the pair runs, and once it has ended.
GOAL_STATUS_CURRENT = (["active", "achieved", "dropped"], [75, 15, 10])
GOAL_STATUS_ENDED = (["active", "achieved", "dropped"], [35, 45, 20])


def _weighted(rng: random.Random, mix: list[tuple[str, int]]) -> str:
    return rng.choices([k for k, _ in mix], [w for _, w in mix])[0]


class Delivery:
    """Coach accounts; per pair a contact plan, the contacts logged, goals and check-ins.

    Draws from a random generator of its own, so the sites, people and pairs come out the
    same whether or not this part runs.
    """

    def __init__(self, gen: Generator, *, contacts: int, seed: int) -> None:
        from django.conf import settings

        from peercoach.curriculum.manual import patient_sections

        self.gen = gen
        self.target = contacts
        self.rng = random.Random(seed + 7919)
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.now_local = gen.now.astimezone(self.tz)
        self.today = self.now_local.date()
        self.sections = patient_sections()
        self.coach_user: dict[int, int] = {}  # coach id -> auth user id
        self.programs: dict[int, dict[str, Any]] = {}  # program id -> settings
        self.counts: dict[str, int] = {}
        # Filled by plan_contacts(): every contact as a compact tuple, in time order,
        # and which contact fulfilled which planned one.
        self.records: list[tuple[int, int, str, str, int, int]] = []
        self.fulfilled: dict[tuple[int, int], int] = {}

    # Accounts ------------------------------------------------------------------------

    def make_coach_users(self, cur: Any) -> None:
        """A login for every coach who has coached, linked through Coach.user."""
        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import make_password

        User = get_user_model()
        password = make_password(BENCH_PASSWORD)
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM auth_user")
        next_id = cur.fetchone()[0] + 1
        for pk, _site, status, _cap in self.gen.coaches:
            if status in COACH_USER_STATUSES:
                self.coach_user[pk] = next_id
                next_id += 1
        rows = ([uid, f"bench_coach_{pk:06d}", password, "Coach", f"{pk:06d}",
                 f"bench_coach_{pk:06d}@example.org", self.gen.now]
                for pk, uid in self.coach_user.items())
        self.counts["coach_users"] = copy_rows(
            cur, User, ("id", "username", "password", "first_name", "last_name", "email",
                        "date_joined"), rows)
        set_sequence(cur, "auth_user")
        cur.execute("CREATE TEMP TABLE bench_coach_user (coach_id bigint, user_id integer) "
                    "ON COMMIT DROP")
        with cur.copy("COPY bench_coach_user (coach_id, user_id) FROM STDIN") as copy:
            for pair in self.coach_user.items():
                copy.write_row(pair)
        cur.execute("UPDATE people_coach c SET user_id = t.user_id FROM bench_coach_user t "
                    "WHERE c.id = t.coach_id")

    # Contacts, planned in memory first -------------------------------------------------

    def _load_programs(self) -> None:
        from peercoach.programs.models import Program

        for p in Program.objects.filter(pk__in=[s["program_id"] for s in self.gen.sites]):
            self.programs[p.pk] = {
                "count": p.contacts_per_patient, "interval": p.days_between_contacts,
                "span": p.program_length_days, "modes": set(p.allowed_contact_modes or [])}

    def _last_day(self, start: dt.date, end: dt.date | None) -> dt.date:
        """The last day a contact of this pair can be on (never later than now)."""
        last = min(end or self.today, self.today)
        if last == self.today and self.now_local.hour * 60 + self.now_local.minute < 9 * 60 + 10:
            last -= dt.timedelta(days=1)
        return last

    def _when(self, day: dt.date, minute: int) -> int:
        """Epoch seconds of `minute` past local midnight on `day`, never after now."""
        if day == self.today:
            minute = min(minute, self.now_local.hour * 60 + self.now_local.minute - 5)
        moment = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=self.tz)
        return int(moment.timestamp())

    def _mode(self, outcome: str, allowed: set[str]) -> str:
        weights = OUTCOME_MODE_WEIGHTS[outcome]
        fitting = {m: w for m, w in weights.items() if m in allowed} or weights
        return self.rng.choices(list(fitting), list(fitting.values()))[0]

    def plan_contacts(self) -> None:
        """Decide every contact of every pair; sort them by time (as ids would come)."""
        from peercoach.coaching import schedule

        rng = self.rng
        self._load_programs()
        pairs = self.gen.pairs
        days = [max(0.0, (self._last_day(p[4], p[5]) - p[4]).days + 0.5) for p in pairs]
        wanted = allocate(self.target, [d * rng.lognormvariate(0, 0.35) for d in days])
        records = self.records
        for index, (_pk, _patient, _coach, site, start, end, _reason) in enumerate(pairs):
            n = wanted[index]
            last = self._last_day(start, end)
            if n == 0 or last < start:
                continue
            program = self.programs[self.gen.sites[site]["program_id"]]
            allowed = program["modes"]
            slots = schedule.make_plan(start, program["count"], program["interval"],
                                       program["span"])
            quiet_from = None
            if end is None and (last - start).days >= 40 and rng.random() < QUIET_SHARE:
                quiet_from = last - dt.timedelta(days=rng.randint(15, 40))
            active_until = quiet_from or last
            used = 0
            open_windows: list[tuple[dt.date, dt.date]] = []
            for slot in slots:
                if slot.start > last:
                    break
                lo, hi = max(slot.start, start), min(slot.end, active_until)
                chance = DONE_SHARE if slot.due <= active_until else IN_PROGRESS_DONE_SHARE
                if lo > hi or used >= n or rng.random() >= chance:
                    open_windows.append((slot.start, slot.end))
                    continue
                day = lo + dt.timedelta(days=rng.randint(0, (hi - lo).days))
                late = slot.end + dt.timedelta(days=1)
                if slot.due <= active_until and late <= active_until and rng.random() < LATE_SHARE:
                    day = late
                minute = rng.randint(12 * 60, 20 * 60 - 1)
                records.append((self._when(day, minute), index, "reached",
                                self._mode("reached", allowed), slot.number, (day - start).days))
                used += 1
                # Tries that did not reach them, in the days before (or earlier that day).
                for _ in range(min(rng.choice([0, 0, 0, 0, 1, 1, 2]), n - used)):
                    before = max(lo, day - dt.timedelta(days=rng.randint(0, 4)))
                    outcome = _weighted(rng, FAILED_OUTCOMES)
                    records.append((self._when(before, rng.randint(9 * 60, 12 * 60 - 1)), index,
                                    outcome, self._mode(outcome, allowed), 0,
                                    (before - start).days))
                    used += 1
            # The rest: calls between the planned ones (social, or a goal to check on).
            span = (last - start).days
            for _ in range(n - used):
                day = start + dt.timedelta(days=rng.randint(0, span))
                if quiet_from is not None and day > quiet_from:
                    outcome = _weighted(rng, FAILED_OUTCOMES)
                else:
                    outcome = _weighted(rng, EXTRA_OUTCOMES)
                    if outcome == "reached" and any(a <= day <= b for a, b in open_windows):
                        outcome = "no_answer"  # a reached contact there would have done it
                records.append((self._when(day, rng.randint(9 * 60, 20 * 60 - 1)), index,
                                outcome, self._mode(outcome, allowed), 0, (day - start).days))
        records.sort()
        for contact_id, record in enumerate(records, start=1):
            if record[4]:
                self.fulfilled[(record[1], record[4])] = contact_id

    # Writing -------------------------------------------------------------------------

    def make_contacts(self, cur: Any) -> None:
        """COPY the contacts in time order; goals and check-ins are decided on the way."""
        from peercoach.coaching.models import Contact

        rng = self.rng
        pairs = self.gen.pairs
        keys = [s.key for s in self.sections]
        practices = [list(s.practices) for s in self.sections]
        goals_of: dict[int, list[int]] = {}  # pair index -> goal ids set so far
        self.goals: list[list[Any]] = []
        self.check_ins: list[tuple[int, int, str, str]] = []
        columns = ("id", "created_at", "updated_at", "patient_id", "coach_id", "match_id",
                   "occurred_at", "mode", "outcome", "duration_minutes", "sections",
                   "curriculum_percent", "pain_today", "concerns", "safety_concern", "notes",
                   "logged_by_id", "version")
        now_ts = self.gen.now.timestamp()
        interval = {pid: p["interval"] for pid, p in self.programs.items()}

        def rows() -> Iterator[list[Any]]:
            for contact_id, (ts, index, outcome, mode, slot, day) in enumerate(self.records, 1):
                match_id, patient, coach, site, _start, end, _reason = pairs[index]
                occurred = dt.datetime.fromtimestamp(ts, dt.UTC)
                logged = dt.datetime.fromtimestamp(min(now_ts, ts + rng.randint(300, 7200)),
                                                   dt.UTC)
                by = self.coach_user.get(coach) or self.gen.sites[site]["coordinator_id"]
                duration = sections = percent = pain = None
                notes = concerns = ""
                if outcome == "reached":
                    step = slot or day // interval[self.gen.sites[site]["program_id"]] + 1
                    main = min(step, len(keys)) - 1
                    chosen = [keys[main]]
                    if main and rng.random() < 0.3:
                        chosen.insert(0, keys[rng.randrange(main)])
                    if not slot and rng.random() < 0.3:
                        chosen = []  # a catch-up call
                    sections = chosen
                    duration = max(5, min(240, int(rng.gauss(45 if mode == "in_person" else 25,
                                                             10))))
                    percent = (rng.choices(*CURRICULUM_PERCENTS)[0] if chosen else 0)
                    pain = rng.randint(1, 9) if rng.random() < 0.8 else None
                    notes = rng.choice(CONTACT_NOTES) if rng.random() < 0.3 else ""
                    concerns = rng.choice(CONCERNS) if rng.random() < 0.04 else ""
                    mine = goals_of.setdefault(index, [])
                    for goal_id in mine[-2:]:
                        if rng.random() < 0.6:
                            self.check_ins.append((goal_id, contact_id,
                                                   rng.choices(*PROGRESS_MIX)[0], ""))
                    if chosen and rng.random() < (0.6 if not mine else 0.12):
                        section = keys.index(chosen[-1])
                        practice = (rng.choice(practices[section]) if practices[section]
                                    else None)
                        goal_id = len(self.goals) + 1
                        mine.append(goal_id)
                        confidence = rng.randint(7, 10) if rng.random() < 0.9 else rng.randint(4, 6)
                        status = rng.choices(*(GOAL_STATUS_ENDED if end else
                                               GOAL_STATUS_CURRENT))[0]
                        self.goals.append([
                            goal_id, logged, patient, (practice.title if practice else
                                                       "Keep going with " + keys[section])[:300],
                            keys[section], practice.key if practice else "",
                            rng.choice(GOAL_WHAT), rng.choice(GOAL_HOW_MUCH),
                            rng.choice(GOAL_WHEN), rng.choice(GOAL_HOW_OFTEN), confidence,
                            status, contact_id, by])
                elif rng.random() < 0.1:
                    notes = "Will try again tomorrow."
                yield [contact_id, logged, logged, patient, coach, match_id, occurred, mode,
                       outcome, duration, json.dumps(sections or []),
                       percent, pain, concerns, False, notes, by, 1]

        self.counts["contacts"] = copy_rows(cur, Contact, columns, rows())
        set_sequence(cur, "coaching_contact")
        outcomes: dict[str, int] = {}
        for record in self.records:
            outcomes[record[2]] = outcomes.get(record[2], 0) + 1
        self.counts.update({f"contacts_{k}": v for k, v in sorted(outcomes.items())})
        self.records = []  # no longer needed

    def make_plans(self, cur: Any) -> None:
        """One plan per pair's patient (open for current pairs), and its planned contacts."""
        from peercoach.coaching import schedule
        from peercoach.coaching.models import ContactPlan, PlannedContact

        pairs = self.gen.pairs
        plan_cols = ("id", "created_at", "updated_at", "patient_id", "started_on",
                     "interval_days", "span_days", "ended_on", "end_reason")
        planned_cols = ("id", "plan_id", "number", "due_on", "window_start", "window_end",
                        "status", "contact_id", "moved_reason")
        statuses: dict[str, int] = {}

        def plan_rows() -> Iterator[list[Any]]:
            for index, (_m, patient, _c, site, start, end, reason) in enumerate(pairs, 1):
                program = self.programs[self.gen.sites[site]["program_id"]]
                moment = dt.datetime.combine(start, dt.time(11), tzinfo=dt.UTC)
                yield [index, moment, moment, patient, start, program["interval"],
                       program["span"], end, reason if end else ""]

        def planned_rows() -> Iterator[list[Any]]:
            pk = 0
            for index, (_m, _p, _c, site, start, end, _r) in enumerate(pairs):
                program = self.programs[self.gen.sites[site]["program_id"]]
                for slot in schedule.make_plan(start, program["count"], program["interval"],
                                               program["span"]):
                    pk += 1
                    contact = self.fulfilled.get((index, slot.number))
                    status = "done" if contact else ("cancelled" if end else "planned")
                    statuses[status] = statuses.get(status, 0) + 1
                    yield [pk, index + 1, slot.number, slot.due, slot.start, slot.end, status,
                           contact, ""]

        self.counts["contact_plans"] = copy_rows(cur, ContactPlan, plan_cols, plan_rows())
        set_sequence(cur, "coaching_contactplan")
        self.counts["planned_contacts"] = copy_rows(cur, PlannedContact, planned_cols,
                                                    planned_rows())
        set_sequence(cur, "coaching_plannedcontact")
        self.counts.update({f"planned_{k}": v for k, v in sorted(statuses.items())})

    def make_goals(self, cur: Any) -> None:
        from peercoach.coaching.models import Goal, GoalChange, GoalCheckIn

        goal_cols = ("id", "created_at", "updated_at", "patient_id", "text", "section",
                     "practice", "what", "how_much", "when", "how_often", "confidence",
                     "status", "set_in_id", "revised_from_id", "created_by_id", "version")
        changes: list[list[Any]] = []

        def goal_rows() -> Iterator[list[Any]]:
            for (goal_id, at, patient, text, section, practice, what, how_much, when,
                 how_often, confidence, status, contact_id, by) in self.goals:
                version = 1 if status == "active" else 2
                snapshot = {"id": goal_id, "patient_id": patient, "text": text,
                            "section": section, "practice": practice, "what": what,
                            "how_much": how_much, "when": when, "how_often": how_often,
                            "confidence": confidence, "status": "active",
                            "set_in_id": contact_id, "revised_from_id": None,
                            "created_by_id": by, "version": 1}
                changes.append([len(changes) + 1, goal_id, json.dumps(snapshot), by, at, "Set"])
                if version == 2:
                    later = at + dt.timedelta(days=14)
                    changes.append([len(changes) + 1, goal_id,
                                    json.dumps({**snapshot, "status": status, "version": 2}),
                                    by, min(later, self.gen.now), status])
                yield [goal_id, at, at, patient, text, section, practice, what, how_much, when,
                       how_often, confidence, status, contact_id, None, by, version]

        self.counts["goals"] = copy_rows(cur, Goal, goal_cols, goal_rows())
        set_sequence(cur, "coaching_goal")
        self.counts["goal_changes"] = copy_rows(
            cur, GoalChange, ("id", "goal_id", "snapshot", "changed_by_id", "changed_at",
                              "reason"), changes)
        set_sequence(cur, "coaching_goalchange")
        self.counts["goal_check_ins"] = copy_rows(
            cur, GoalCheckIn, ("id", "goal_id", "contact_id", "progress", "note"),
            ([pk, *row] for pk, row in enumerate(self.check_ins, 1)))
        set_sequence(cur, "coaching_goalcheckin")
        self.goals, self.check_ins = [], []


def bench_data_present() -> bool:
    from peercoach.programs.models import Site

    return Site.objects.filter(code__startswith=SITE_CODE_PREFIX).exists()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 DEFAULT_URL))
    parser.add_argument("--sites", type=int, default=150)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--coaches", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--reset", action="store_true",
                        help="drop the public schema and start from an empty database")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results"
                        / "generate.json", help="where to write the counts and timings")
    parser.add_argument("--contacts", type=int, default=0,
                        help="also deliver the program: logins for coaches, a contact plan "
                             "per pair and about this many contacts, with goals (0: skip)")
    parser.add_argument("--active-share", type=float, default=None,
                        help="share of patients who are active (default: the status mix's "
                             "34 %%); the other statuses shrink in proportion")
    parser.add_argument("--paired-share", type=float, default=PAIRED_SHARE_OF_ACTIVE,
                        help="share of active patients with a current coach (default 0.9)")
    parser.add_argument("--all-active", action="store_true",
                        help="every patient active and paired: --active-share 1 "
                             "--paired-share 1 (give enough --coaches: about 1.2 per patient)")
    args = parser.parse_args(argv)
    if args.all_active:
        args.active_share, args.paired_share = 1.0, 1.0
    if args.active_share is not None and not 0 <= args.active_share <= 1:
        parser.error("--active-share must be between 0 and 1")
    if not 0 <= args.paired_share <= 1:
        parser.error("--paired-share must be between 0 and 1")
    url = args.database_url
    if not url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a PostgreSQL URL")
    if db_name(url) in {"postgres", "template0", "template1"} or db_name(url).startswith("test"):
        parser.error(f"refusing to write into database '{db_name(url)}'")

    timer = Timer()
    print(f"Generating into {db_name(url)}: {args.sites} sites, {args.patients} patients, "
          f"{args.coaches} coaches (seed {args.seed})")
    with timer.phase("create database if missing"):
        ensure_database(url)
    if args.reset:
        with timer.phase("drop and recreate schema"):
            reset_schema(url)
    setup_django(url)
    from django.core.management import call_command
    from django.db import connection, transaction

    with timer.phase("migrate"):
        call_command("migrate", verbosity=0, interactive=False)
    if bench_data_present():
        print("Benchmark data is already there; nothing done. Use --reset to start afresh.")
        return 0

    gen = Generator(sites=args.sites, patients=args.patients, coaches=args.coaches,
                    seed=args.seed, active_share=args.active_share,
                    paired_share=args.paired_share)
    with transaction.atomic():
        with connection.cursor() as c:
            c.execute("SET LOCAL synchronous_commit = off")
        raw = connection.connection  # the psycopg 3 connection, inside Django's transaction
        with timer.phase("sites, programs"):
            gen.make_sites()
        with timer.phase("staff users, role assignments"):
            gen.make_staff()
        with raw.cursor() as cur:
            with timer.phase(f"patients ({args.patients})"):
                gen.make_patients(cur)
            with timer.phase(f"coaches ({args.coaches})"):
                gen.make_coaches(cur)
            with timer.phase("matches"):
                gen.make_matches(cur)
            if args.contacts:
                delivery = Delivery(gen, contacts=args.contacts, seed=args.seed)
                with timer.phase("coach logins"):
                    delivery.make_coach_users(cur)
                with timer.phase("contacts planned in memory"):
                    delivery.plan_contacts()
                with timer.phase(f"contacts ({args.contacts}, COPY)"):
                    delivery.make_contacts(cur)
                with timer.phase("contact plans, planned contacts"):
                    delivery.make_plans(cur)
                with timer.phase("goals, goal changes, check-ins"):
                    delivery.make_goals(cur)
                gen.counts.update(delivery.counts)
    connection.close()
    with timer.phase("VACUUM ANALYZE"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
    total = timer.total()
    print(f"Total {total:.1f} s")
    largest = gen.sites[gen.largest_site]
    sizes = [0] * args.sites
    for _, site, _, _ in gen.patients:
        sizes[site] += 1
    print("Counts: " + ", ".join(f"{k}={v}" for k, v in gen.counts.items()))
    print(f"Patients per site: min {min(sizes)}, median {sorted(sizes)[len(sizes) // 2]}, "
          f"max {max(sizes)}; bench_coordinator_one_site is at site id {largest['id']} "
          f"({sizes[gen.largest_site]} patients)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "database": db_name(url), "seed": args.seed,
        "arguments": {"sites": args.sites, "patients": args.patients, "coaches": args.coaches,
                      "contacts": args.contacts, "active_share": args.active_share,
                      "paired_share": args.paired_share},
        "counts": gen.counts,
        "patients_per_site": {"min": min(sizes), "median": sorted(sizes)[len(sizes) // 2],
                              "max": max(sizes)},
        "one_site_coordinator_site": {"id": largest["id"],
                                      "patients": sizes[gen.largest_site]},
        "phases_seconds": {name: round(took, 2) for name, took in timer.phases},
        "total_seconds": round(total, 2),
    }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
