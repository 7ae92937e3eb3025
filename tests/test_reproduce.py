"""experiments/reproduce.py: what is left becomes a queue of resumable jobs for the machine's cores, and the printed
commands send a lent GPU only what can run there."""

import json
import sys
import time
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def reproduce(experiment):
    return experiment("reproduce")


@pytest.fixture(scope="module")
def planner(reproduce):
    """experiments/reproduction_plan.py as reproduce.py imports it (a patch here reaches it)."""
    return sys.modules["reproduction_plan"]


@pytest.fixture(scope="module")
def costs(reproduce):
    """experiments/reproduction_costs.py as the plan imports it (a patch here reaches it)."""
    return sys.modules["reproduction_costs"]


@pytest.fixture(scope="module")
def queue(reproduce):
    """experiments/reproduction_queue.py as reproduce.py imports it."""
    return sys.modules["reproduction_queue"]


@pytest.fixture()
def left(planner):
    return planner.Left(
        texts=["ml-1m"], glta={"ml-1m": ["default", "no_ia", "autoregressive"], "ml-100k": ["glta_plus"]},
        mains={"amazon-scientific": ["pop", "ease"]}, grids={"goodreads-once": ["lightgcn_plus"]},
        seeds={"goodreads-once": ["lightgcn_plus", "hccf"], "ml-1m": ["hccf"]}, no_lightgcn=["ml-1m"],
        seconds={("ml-1m", "default"): 5000.0, ("ml-1m", "no_ia"): 5000.0, ("ml-1m", "autoregressive"): 5000.0,
                 ("ml-100k", "glta_plus"): 2300.0, ("goodreads-once", "lightgcn_plus"): 124.0,
                 ("goodreads-once", "hccf"): 9000.0, ("ml-1m", "hccf"): 220.0, ("amazon-scientific", "ease"): 15.0})


def test_until_a_clock_time_is_the_hours_to_its_next_occurrence(reproduce):
    """`--until 17:00` stops a queue before a session's known end without hours worked out by hand."""
    import datetime

    from glta.errors import GLTAError

    now = datetime.datetime(2026, 12, 7, 14, 15, 30)
    assert reproduce.hours_until("17:00", now) == pytest.approx(2.75 - 30 / 3600)
    assert reproduce.hours_until("14:00", now) == pytest.approx(23.75 - 30 / 3600)  # passed today: tomorrow's
    for wrong in ("5pm", "25:00", "17"):
        with pytest.raises(GLTAError, match=f"--until {wrong}: give a clock time as HH:MM"):
            reproduce.hours_until(wrong, now)


def test_the_queue_starts_with_what_glta_waits_for_then_runs_the_longest_first(queue, left, tmp_path):
    jobs = queue.queue_jobs(left, tmp_path)
    names = [job.name for job in jobs]
    assert names[:2] == ["texts-ml-1m", "pretrain-ml-1m"]
    assert names[2:] == ["seed-goodreads-once-hccf-2026", "seed-goodreads-once-hccf-2027", "glta-ml-1m-default",
                         "glta-ml-1m-autoregressive", "glta-ml-1m-no_ia", "glta-ml-100k-glta_plus",
                         "seed-ml-1m-hccf-2026", "seed-ml-1m-hccf-2027", "grid-goodreads-once-lightgcn_plus",
                         "seed-goodreads-once-lightgcn_plus-2026", "seed-goodreads-once-lightgcn_plus-2027",
                         "grid-amazon-scientific-ease", "pop-amazon-scientific"]
    after = {job.name: job.after for job in jobs}
    assert after["glta-ml-1m-no_ia"] == ("texts-ml-1m", "pretrain-ml-1m")  # its texts and its frozen LightGCN
    assert after["glta-ml-1m-autoregressive"] == ("texts-ml-1m", "glta-ml-1m-default", "pretrain-ml-1m")
    assert after["glta-ml-100k-glta_plus"] == ()  # texts and LightGCN already here
    assert after["seed-goodreads-once-lightgcn_plus-2026"] == ("grid-goodreads-once-lightgcn_plus",)
    by_name = {job.name: job.command for job in jobs}
    assert by_name["pretrain-ml-1m"][1:] == ["-m", "glta", "pretrain", "--dataset", "ml-1m", "--out",
                                             str(tmp_path / "pretrain-ml-1m.json"), "--no-progress", "--resume",
                                             "train.threads=1"]  # stopped by --hours: the queue continues it
    assert by_name["pop-amazon-scientific"][1:] == ["-m", "glta", "train", "pop", "--dataset", "amazon-scientific",
                                                    "--no-progress"]
    assert by_name["glta-ml-1m-no_ia"][-3:] == ["--threads", "1", "--no-progress"]  # one thread a job
    assert by_name["grid-amazon-scientific-ease"][-4:] == ["--retrain", "--threads", "1", "--no-progress"]


def test_without_the_llm_the_queue_keeps_only_the_jobs_that_never_run_it(
        planner, queue, left, tmp_path, monkeypatch, capsys):
    left.glta_seeds = {"ml-100k": ["default"]}
    names = [job.name for job in queue.queue_jobs(left, tmp_path, llm=False)]
    assert names == ["seed-goodreads-once-hccf-2026", "seed-goodreads-once-hccf-2027", "seed-ml-1m-hccf-2026",
                     "seed-ml-1m-hccf-2027", "grid-goodreads-once-lightgcn_plus",
                     "seed-goodreads-once-lightgcn_plus-2026", "seed-goodreads-once-lightgcn_plus-2027",
                     "grid-amazon-scientific-ease", "pop-amazon-scientific"]  # no texts, pretrain, GLTA or its seeds
    assert "seed-ml-100k-default-2026" in [job.name for job in queue.queue_jobs(left, tmp_path)]
    for bf16, suggested in ((False, True), (True, False)):  # the plan suggests it where the LLM would run in fp32
        monkeypatch.setattr("glta.device.cpu_has_bf16", lambda: bf16)
        planner.print_commands(left)
        assert ("--jobs 2 --hours 2.5 --no-llm --no-progress" in capsys.readouterr().out) == suggested


def test_without_texts_the_queue_keeps_the_glta_cells_that_read_none(planner, queue, tmp_path, monkeypatch, capsys):
    """--no-texts: ml-1m's texts are not written, so only its w/o PF&PD cell (no profile, no prediction in the
    prompt) and the graph jobs stay, with the frozen LightGCN that cell reads; ml-100k's texts are here."""
    left = planner.Left(texts=["ml-1m"], glta={"ml-1m": ["default", "no_pf", "no_pf_pd", "first_logit"],
                                               "ml-100k": ["no_pd"]},
                        glta_seeds={"ml-1m": ["no_pf_pd", "glta_plus"]}, seeds={"ml-1m": ["hccf"]},
                        no_lightgcn=["ml-1m", "ml-100k"],
                        seconds={("ml-1m", "no_pf_pd"): 9000.0, ("ml-100k", "no_pd"): 2000.0,
                                 ("ml-1m", "hccf"): 220.0})
    jobs = {job.name: job for job in queue.queue_jobs(left, tmp_path, texts_for=[])}
    assert list(jobs) == ["pretrain-ml-1m", "pretrain-ml-100k", "glta-ml-1m-no_pf_pd", "glta-ml-100k-no_pd",
                          "seed-ml-1m-hccf-2026", "seed-ml-1m-hccf-2027", "seed-ml-1m-no_pf_pd-2026",
                          "seed-ml-1m-no_pf_pd-2027"]
    assert jobs["glta-ml-1m-no_pf_pd"].after == ("pretrain-ml-1m",)  # not the texts: it reads none
    assert jobs["seed-ml-1m-no_pf_pd-2026"].after == ("pretrain-ml-1m",)
    with_texts = {job.name: job for job in queue.queue_jobs(left, tmp_path)}
    assert with_texts["glta-ml-1m-no_pf_pd"].after == ("pretrain-ml-1m",)  # it starts beside the texts there too
    assert with_texts["glta-ml-1m-no_pf"].after == ("texts-ml-1m", "pretrain-ml-1m")
    assert with_texts["seed-ml-1m-glta_plus-2026"].after == ("texts-ml-1m", "pretrain-ml-1m")
    no_glta = [job.name for job in queue.queue_jobs(left, tmp_path, llm=False)]
    assert no_glta == ["seed-ml-1m-hccf-2026", "seed-ml-1m-hccf-2027"]  # no GLTA job: no frozen LightGCN either
    monkeypatch.setattr("glta.device.cpu_has_bf16", lambda: False)  # the plan names the cells --no-texts adds
    left.text_seconds = {"ml-1m": 53000.0}
    planner.print_commands(left)
    out = capsys.readouterr().out
    assert "the GLTA cells that read no LLM-written text: ml-1m no_pf_pd, ml-1m no_pf_pd's seeds\n" in out
    assert "--texts-for ml-1m instead also writes ml-1m's texts here (~14.7 h of one process" in out
    left.cpu_ratio = (1.85, ["amazon-scientific"])  # fp32 measured against bf16: the plan suggests the texts, and
    planner.print_commands(left)  # names --no-texts as the choice that writes none
    out = capsys.readouterr().out
    assert "--jobs 2 --hours 2.5 --texts-for ml-1m --no-progress" in out
    assert "--no-texts instead of --texts-for ml-1m writes no texts here: both cores train what reads none (the " \
           "GLTA cells ml-1m no_pf_pd, ml-1m no_pf_pd's seeds, and the graph baselines)" in out


def test_texts_for_one_data_set_writes_those_alone_by_one_process_beside_a_started_job(planner, queue, tmp_path):
    """--texts-for amazon-scientific: its texts and the GLTA cells reading them stay, the other data sets' texts and
    readers go as with --no-texts; a job an earlier queue started holds a worker, so the texts take the other one as
    a single process (a two-process job would wait for both workers, hours); goodreads' w/o PF&PD, started before,
    goes last since its full GLTA has no run to compare it with."""
    left = planner.Left(texts=["amazon-scientific", "goodreads-once"],
                        glta={"amazon-scientific": ["no_pf", "no_pf_pd"], "goodreads-once": ["default", "no_pf_pd"],
                              "ml-1m": ["no_pf_pd"]},
                        glta_seeds={"amazon-scientific": ["glta_plus"]}, seeds={"goodreads-once": ["hccf"]},
                        no_glta=["goodreads-once"],
                        seconds={("amazon-scientific", "no_pf"): 15000.0, ("amazon-scientific", "no_pf_pd"): 15000.0,
                                 ("amazon-scientific", "glta_plus"): 13000.0, ("ml-1m", "no_pf_pd"): 27000.0,
                                 ("goodreads-once", "hccf"): 9000.0})
    for name in ("glta-amazon-scientific-no_pf_pd", "glta-goodreads-once-no_pf_pd"):
        (tmp_path / f"{name}.log").write_text("started\n")
    jobs = queue.queue_jobs(left, tmp_path, workers=2, shortest_first=True, texts_for=["amazon-scientific"])
    assert [job.name for job in jobs] == [
        "glta-amazon-scientific-no_pf_pd", "texts-amazon-scientific", "seed-goodreads-once-hccf-2026",
        "seed-goodreads-once-hccf-2027", "glta-amazon-scientific-no_pf", "glta-ml-1m-no_pf_pd",
        "seed-amazon-scientific-glta_plus-2026", "seed-amazon-scientific-glta_plus-2027",
        "glta-goodreads-once-no_pf_pd"]
    texts = jobs[1]
    assert texts.slots == 1 and texts.command[1:3] == ["-m", "glta"]  # one process: a worker is held
    assert "texts-amazon-scientific" in jobs[4].after and "texts-amazon-scientific" in jobs[6].after
    (tmp_path / "texts-amazon-scientific.log").write_text("started\n")  # the next session: both resume side by side
    jobs = queue.queue_jobs(left, tmp_path, workers=2, shortest_first=True, texts_for=["amazon-scientific"])
    assert [(job.name, job.slots) for job in jobs[:2]] == [("texts-amazon-scientific", 1),
                                                           ("glta-amazon-scientific-no_pf_pd", 1)]
    (tmp_path / "texts-amazon-scientific.log").unlink()
    (tmp_path / "glta-amazon-scientific-no_pf_pd.log").unlink()  # nothing started holds a worker: both for the texts
    jobs = queue.queue_jobs(left, tmp_path, workers=2, shortest_first=True, texts_for=["amazon-scientific"])
    assert jobs[0].name == "texts-amazon-scientific" and jobs[0].slots == 2
    queued = [job.name for job in queue.queue_jobs(left, tmp_path, texts_for=["amazon-scientific"])]
    assert queued[-1] == "glta-goodreads-once-no_pf_pd"  # longest first too: the ablation with no reference last
    assert "glta-goodreads-once-default" not in queued  # it waits for goodreads' texts
    left.no_lightgcn = ["goodreads-once"]  # a frozen LightGCN only the ablation reads waits last with it
    queued = [job.name for job in queue.queue_jobs(left, tmp_path, texts_for=["amazon-scientific"])]
    assert queued[-2:] == ["pretrain-goodreads-once", "glta-goodreads-once-no_pf_pd"]
    left.no_lightgcn = []
    (tmp_path / "glta-goodreads-once-no_pf_pd.log").unlink()
    everything = [job.name for job in queue.queue_jobs(left, tmp_path)]  # its full GLTA queued: an ordinary
    assert everything.index("glta-goodreads-once-default") + 1 == everything.index("glta-goodreads-once-no_pf_pd") \
        < everything.index("seed-amazon-scientific-glta_plus-2026")  # ablation, before the GLTA cells' extra seeds


def test_a_seed_already_trained_gets_no_job(planner, queue, tmp_path, monkeypatch):
    """The plan records which extra seeds a cell lacks; the queue makes jobs for those alone (a grid trained again
    trains every seed again)."""
    monkeypatch.chdir(tmp_path)
    done = tmp_path / "results" / "goodreads-once" / "seeds" / "hccf-2026.json"
    done.parent.mkdir(parents=True)
    done.write_text("{}")
    assert planner.seeds_without_file("goodreads-once", "hccf") == [2027]
    assert planner.seeds_without_file("goodreads-once", "lightgcn") == [2026, 2027]
    left = planner.Left(seeds={"goodreads-once": ["hccf", "lightgcn"]}, glta_seeds={"ml-100k": ["default"]},
                        seeds_left={("goodreads-once", "hccf"): [2027], ("ml-100k", "default"): [2026]})
    jobs = queue.queue_jobs(left, tmp_path / "logs")
    assert sorted(job.name for job in jobs) == ["seed-goodreads-once-hccf-2027", "seed-goodreads-once-lightgcn-2026",
                                                "seed-goodreads-once-lightgcn-2027", "seed-ml-100k-default-2026"]
    assert {(job.cell, job.seed) for job in jobs} == {(("goodreads-once", "hccf"), 2027),
                                                      (("goodreads-once", "lightgcn"), 2026),
                                                      (("goodreads-once", "lightgcn"), 2027),
                                                      (("ml-100k", "default"), 2026)}  # the seed, not its name


def test_a_new_data_sets_glta_and_glta_plus_rows_come_before_its_ablations(planner, queue, tmp_path):
    left = planner.Left(glta={"amazon-scientific": ["default", "no_ia", "no_pf", "glta_plus", "first_logit"]})
    names = [job.name for job in queue.queue_jobs(left, tmp_path)]  # no like run measured: no times to sort by
    assert names == ["glta-amazon-scientific-default", "glta-amazon-scientific-first_logit",  # reads the default
                     "glta-amazon-scientific-glta_plus", "glta-amazon-scientific-no_ia", "glta-amazon-scientific-no_pf"]


def test_a_gpu_gets_no_mode_without_its_model_and_trains_a_missing_frozen_lightgcn_itself(planner, left, capsys):
    left.no_lightgcn = []
    left.glta["amazon-scientific"] = ["first_logit"]  # its default model is on this machine only
    planner.print_commands(left)
    out = capsys.readouterr().out
    assert "--jobs 2" in out
    assert ("gpu_session.py prepare --datasets ml-1m --glta ml-1m:default,no_ia,autoregressive ml-100k:glta_plus  "
            in out)
    assert ("prepare --no-texts --baselines goodreads-once:lightgcn_plus --seeds goodreads-once:lightgcn_plus,hccf "
            "ml-1m:hccf") in out
    texts, left.texts = left.texts, []  # every text written: the GLTA call says so in words, not an empty list
    planner.print_commands(left)
    assert "prepare --no-texts --glta ml-1m:default,no_ia,autoregressive ml-100k:glta_plus  " in capsys.readouterr().out
    left.texts = texts
    left.no_lightgcn = ["ml-1m"]
    planner.print_commands(left)
    out = capsys.readouterr().out
    assert "--glta ml-1m:default,no_ia,autoregressive ml-100k:glta_plus  " in out
    assert "GLTA on ml-1m reads a frozen LightGCN that is not here: a GPU call trains it there first" in out


def test_a_gpu_call_carries_the_glta_seeds_a_cell_lacks(planner, left, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # results/ of its own: ml-100k's GLTA has seed 2027 only
    (tmp_path / "results" / "ml-100k" / "seeds").mkdir(parents=True)
    (tmp_path / "results" / "ml-100k" / "seeds" / "glta-2027.json").write_text("{}")
    left.no_lightgcn, left.glta_seeds = [], {"ml-100k": ["default"], "amazon-scientific": ["glta_plus"]}
    planner.print_commands(left)
    out = capsys.readouterr().out
    assert ("--glta ml-1m:default,no_ia,autoregressive ml-100k:glta_plus,default@2026 "
            "amazon-scientific:glta_plus@2026,glta_plus@2027  ") in out


def test_the_paper_tables_are_rebuilt_over_all_three_data_sets_or_left_alone(reproduce, monkeypatch):
    built = []
    monkeypatch.setattr(reproduce, "report", lambda datasets, readme=True: built.append((datasets, readme)))
    reproduce.refresh(["synthetic"])  # not a paper data set: results/paper/ stays as it is
    reproduce.refresh(["ml-1m"])  # one of them: every column again, not only ml-1m's
    # a queue leaves the README of its worktree alone: the checkout must stay clean for the next restart
    reproduce.refresh(["ml-1m"], readme=False)
    assert built == [(list(reproduce.DATASETS), True), (list(reproduce.DATASETS), False)]
    assert set(reproduce.DATASETS) == {"ml-1m", "amazon-scientific", "goodreads-once"}


def test_with_two_workers_the_texts_are_written_by_two_processes_taking_both(reproduce, queue, left, tmp_path):
    jobs = {job.name: job for job in queue.queue_jobs(left, tmp_path, workers=2)}
    texts = jobs["texts-ml-1m"]
    assert texts.slots == 2 and texts.command[1:7] == [str(Path(reproduce.__file__).with_name("launch.py")),
                                                       "--standalone", "--nproc-per-node", "2", "-m", "glta"]
    assert texts.command[7:9] == ["text", "generate"]
    assert all(job.slots == 1 for name, job in jobs.items() if name != "texts-ml-1m")
    assert list(jobs)[:2] == ["texts-ml-1m", "pretrain-ml-1m"]
    assert queue.queue_jobs(left, tmp_path)[0].slots == 1  # one worker: one process


def test_jobs_name_the_prefix_store_they_read_so_the_queue_can_pair_them(planner, queue, tmp_path):
    """Jobs of one data set whose prompts open with the same text share a store (GLTA, GLTA+, w/o IA, a decoding
    mode, a seed); the PF/PD ablations open with other text and read stores of their own; baselines read none."""
    left = planner.Left(glta={"ml-1m": ["default", "no_ia", "no_pf", "no_pd", "glta_plus", "first_logit"],
                              "ml-100k": ["default"]},
                        glta_seeds={"ml-1m": ["default"]}, seeds={"ml-1m": ["hccf"]})
    store = {job.name: job.store for job in queue.queue_jobs(left, tmp_path)}
    shared = store["glta-ml-1m-default"]
    assert shared and shared.startswith("ml-1m|")
    for name in ("glta-ml-1m-no_ia", "glta-ml-1m-glta_plus", "glta-ml-1m-first_logit", "seed-ml-1m-default-2026"):
        assert store[name] == shared, name
    assert len({shared, store["glta-ml-1m-no_pf"], store["glta-ml-1m-no_pd"], store["glta-ml-100k-default"]}) == 4
    assert store["seed-ml-1m-hccf-2026"] is None


def test_glta_seeds_are_queued_after_their_texts_and_frozen_lightgcn(planner, queue, tmp_path):
    left = planner.Left(texts=["ml-1m"], glta_seeds={"ml-1m": ["glta_plus"], "ml-100k": ["default"]},
                        seeds={"ml-1m": ["hccf"]}, no_lightgcn=["ml-1m"],
                        seconds={("ml-1m", "glta_plus"): 4000.0, ("ml-100k", "default"): 2000.0,
                                 ("ml-1m", "hccf"): 220.0})
    jobs = {job.name: job for job in queue.queue_jobs(left, tmp_path)}
    assert list(jobs) == ["texts-ml-1m", "pretrain-ml-1m", "seed-ml-1m-hccf-2026", "seed-ml-1m-hccf-2027",
                          "seed-ml-1m-glta_plus-2026", "seed-ml-1m-glta_plus-2027", "seed-ml-100k-default-2026",
                          "seed-ml-100k-default-2027"]  # a GLTA cell's extra seeds after the other jobs
    assert jobs["seed-ml-1m-glta_plus-2026"].after == ("texts-ml-1m", "pretrain-ml-1m")
    assert jobs["seed-ml-100k-default-2027"].after == ()  # its texts and LightGCN are here
    assert jobs["seed-ml-1m-hccf-2026"].after == ()  # a graph baseline reads neither
    assert jobs["seed-ml-100k-default-2026"].command[-7:-2] == ["--names", "default", "--seeds", "2026", "--threads"]


def test_shortest_first_finishes_short_cells_first_and_still_starts_with_what_glta_waits_for(planner, queue, tmp_path):
    left = planner.Left(texts=["ml-1m"], glta_seeds={"ml-1m": ["glta_plus"]}, seeds={"ml-1m": ["hccf"]},
                        glta={"ml-1m": ["no_ia", "default"]}, no_lightgcn=["ml-1m"],
                        seconds={("ml-1m", "glta_plus"): 4000.0, ("ml-1m", "hccf"): 220.0,
                                 ("ml-1m", "default"): 28000.0, ("ml-1m", "no_ia"): 28000.0})
    names = [job.name for job in queue.queue_jobs(left, tmp_path, shortest_first=True)]
    assert names == ["texts-ml-1m", "pretrain-ml-1m", "seed-ml-1m-hccf-2026", "seed-ml-1m-hccf-2027",
                     "glta-ml-1m-default", "glta-ml-1m-no_ia",  # equal times: Table 2's row before the ablation
                     "seed-ml-1m-glta_plus-2026", "seed-ml-1m-glta_plus-2027"]  # a GLTA cell with no run first
    longest = [job.name for job in queue.queue_jobs(left, tmp_path)]
    assert longest[:2] == names[:2] and longest[2:] == ["glta-ml-1m-default", "glta-ml-1m-no_ia",
                                                        "seed-ml-1m-hccf-2026", "seed-ml-1m-hccf-2027",
                                                        "seed-ml-1m-glta_plus-2026", "seed-ml-1m-glta_plus-2027"]


def test_a_frozen_graph_other_than_lightgcn_that_a_glta_cell_reads_is_trained_first(
        planner, queue, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/ here: neither LightGCN nor LightGCN+ is trained
    left = planner.Left()
    planner.plan_glta("amazon-scientific", left)  # its GLTA+ config reads LightGCN+ (`model.graph`)
    assert left.no_lightgcn == ["amazon-scientific"] and left.no_graph == {"amazon-scientific": ["lightgcn_plus"]}
    jobs = {job.name: job for job in queue.queue_jobs(left, tmp_path / "logs")}
    graph = jobs["graph-amazon-scientific-lightgcn_plus"]
    assert graph.command[1:6] == ["-m", "glta", "train", "lightgcn_plus", "--dataset"]
    assert graph.command[7:9] == ["--out", str(tmp_path / "logs" / "graph-amazon-scientific-lightgcn_plus.json")]
    assert "graph-amazon-scientific-lightgcn_plus" in jobs["glta-amazon-scientific-glta_plus"].after
    assert "graph-amazon-scientific-lightgcn_plus" not in jobs["glta-amazon-scientific-default"].after
    assert list(jobs).index(graph.name) < list(jobs).index("glta-amazon-scientific-glta_plus")
    assert not [name for name in (job.name for job in queue.queue_jobs(left, tmp_path / "logs", llm=False))
                if name.startswith("graph-")]  # it serves GLTA only
    left.texts = ["amazon-scientific"]  # without its texts only w/o PF&PD is left, which reads LightGCN
    no_texts = [job.name for job in queue.queue_jobs(left, tmp_path / "logs", texts_for=[])]
    assert "glta-amazon-scientific-no_pf_pd" in no_texts and "pretrain-amazon-scientific" in no_texts
    assert not [name for name in no_texts if name.startswith("graph-")]
    emb = tmp_path / "runs" / "amazon-scientific" / "lightgcn_plus" / "embeddings.safetensors"
    emb.parent.mkdir(parents=True)
    emb.write_bytes(b"")
    left = planner.Left()
    planner.plan_glta("amazon-scientific", left)
    assert left.no_graph == {}


def test_jobs_an_earlier_queue_started_here_go_first_in_either_order(planner, queue, tmp_path):
    left = planner.Left(texts=["amazon-scientific"], glta_seeds={"ml-1m": ["glta_plus"]}, seeds={"ml-1m": ["hccf"]},
                        seconds={("ml-1m", "glta_plus"): 4000.0, ("ml-1m", "hccf"): 220.0})
    fresh = [job.name for job in queue.queue_jobs(left, tmp_path, shortest_first=True)]
    assert fresh[0] == "texts-amazon-scientific"
    for name in ("seed-ml-1m-glta_plus-2027", "seed-ml-1m-glta_plus-2026"):  # cut off by an earlier deadline
        (tmp_path / f"{name}.log").write_text("=== glta_plus seed\n")
    for shortest_first in (True, False):
        names = [job.name for job in queue.queue_jobs(left, tmp_path, shortest_first=shortest_first)]
        assert names[:3] == ["seed-ml-1m-glta_plus-2026", "seed-ml-1m-glta_plus-2027", "texts-amazon-scientific"]
        assert sorted(names) == sorted(fresh)


def test_jobs_named_first_run_before_the_rest_and_still_wait_for_what_they_read(queue, left, tmp_path):
    from glta.errors import GLTAError

    plain = [job.name for job in queue.queue_jobs(left, tmp_path)]
    (tmp_path / "glta-ml-1m-default.log").write_text("started by an earlier queue\n")
    jobs = queue.queue_jobs(left, tmp_path, up_front=["ml-1m:hccf", "glta-ml-1m-no_ia"])
    names = [job.name for job in jobs]
    assert names[:4] == ["seed-ml-1m-hccf-2026", "seed-ml-1m-hccf-2027", "glta-ml-1m-no_ia", "glta-ml-1m-default"]
    assert names[4] == "glta-ml-1m-autoregressive"  # right after the default model it reads
    assert names[5:] == [name for name in plain if name not in names[:5]]  # the rest as before
    assert {job.name: job.after for job in jobs}["glta-ml-1m-no_ia"] == ("texts-ml-1m", "pretrain-ml-1m")
    with pytest.raises(GLTAError, match="--first ml-1m:lightgcn: no job of that name or cell is left to run; "
                                        "the jobs left: glta-ml-1m-default, glta-ml-1m-autoregressive, "
                                        "texts-ml-1m"):
        queue.queue_jobs(left, tmp_path, up_front=["ml-1m:lightgcn"])


def test_the_plan_estimates_texts_from_this_machines_own_generation_rate(costs, monkeypatch, tmp_path):
    import json

    import torch

    from glta.device import cpu_info
    from glta.text.generate import rates_path
    from glta.text.llm import LLMConfig, resolve_dtype

    monkeypatch.setenv("GLTA_CACHE_DIR", str(tmp_path))
    here = str(resolve_dtype(LLMConfig(), torch.device("cpu"))).removeprefix("torch.")
    rates_path().parent.mkdir(parents=True)
    users, items = ["profile", "prediction"], ["item_profile"]
    mine = {"cpu": cpu_info()[0], "device": "cpu", "dtype": here}  # calls on this machine
    calls = [{**mine, "kinds": users, "batch_size": 32, "responses": 300, "seconds": 200.0},
             {**mine, "kinds": users, "batch_size": 32, "responses": 100, "seconds": 200.0},
             {**mine, "kinds": items, "batch_size": 32, "responses": 400, "seconds": 100.0},
             {**mine, "cpu": "another CPU", "kinds": users, "responses": 9000, "seconds": 10.0},
             {**mine, "kinds": users, "batch_size": 64, "responses": 8, "seconds": 200.0}]  # a trial of 4 users
    rates_path().write_text("".join(json.dumps(call) + "\n" for call in calls))
    rate, source, own = costs.text_rate()
    assert rate == pytest.approx(1.0) and "this machine's 2 calls" in source and own  # 400 in 400 s, one process
    assert costs.local_rate(("item_profile",)) == (pytest.approx(4.0), 1)  # item profiles: a rate of their own
    # 7,200 user texts at 1/s and 7,200 item profiles at 4/s: 2.5 h; without an item rate measured, both at 1/s
    left = {"profile": 3600, "prediction": 3600, "item_profile": 7200}
    assert "~2.5 h on this CPU at the measured 1.0 (item profiles 4.0) responses/s" in \
        costs.text_hours(left, rate, source, 4.0)
    assert "~4.0 h" in costs.text_hours(left, rate, source, None)
    assert "responses/s a process, this machine's 2 calls, ~1.2 h for the two processes of `--jobs 2`" in \
        costs.text_hours(left, rate, source, 4.0, per_process=True)  # 2.5 h at one process's rate
    assert costs.text_hours(dict.fromkeys(left, 0), rate, source, 4.0) == ""  # nothing left to write
    assert "at the measured 0.035 responses/s" in costs.text_hours(left, 0.035, source, None)  # not "0.0"


def test_before_any_local_call_the_plan_uses_the_benchmark_of_this_cpus_precision_or_says_it_had_none(
        costs, monkeypatch, tmp_path):
    import json

    monkeypatch.setenv("GLTA_CACHE_DIR", str(tmp_path))  # no rates logged on this "machine"
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)

    def benchmark(name: str, dtype: str, rate: float, **more) -> None:
        record = {"dtype": dtype, "project_profile_and_prediction_shared_prefix": {"responses_per_s": rate}, **more}
        (results / name).write_text(json.dumps(record))

    benchmark("generation_ml-1m.json", "torch.bfloat16", 2.0)
    monkeypatch.setattr(costs, "cpu_dtype", lambda: "bfloat16")
    assert costs.text_rate() == (2.0, " (benchmark)", False)
    monkeypatch.setattr(costs, "cpu_dtype", lambda: "float32")  # a CPU without hardware bf16
    rate, source, _ = costs.text_rate()
    assert rate == 2.0 and "measured in bfloat16, while this CPU runs the LLM in float32" in source
    benchmark("generation_ml-1m_float32.json", "torch.float32", 0.5, load_average_at_start=[3.0, 2.9, 2.9],
              machine={"cpu": "AMD EPYC", "bf16": False, "cores": 2})  # once measured in fp32, that one is used
    assert costs.text_rate() == (0.5, " (benchmark, on AMD EPYC without hardware bf16, load 3.0 on 2 cores)", False)
    monkeypatch.setattr(costs, "cpu_dtype", lambda: "bfloat16")
    assert costs.text_rate() == (2.0, " (benchmark)", False)


def test_a_data_sets_texts_are_timed_at_its_own_rate_first(costs, monkeypatch, tmp_path):
    """Prompts read a user's history, so a data set of short histories writes faster: its own measured rate (this
    machine's calls, else a benchmark of its prompts) comes before another data set's."""
    import json

    from glta.device import cpu_info
    from glta.text.generate import rates_path

    monkeypatch.setenv("GLTA_CACHE_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(costs, "cpu_dtype", lambda: "float32")
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    for name, dataset, rate in (("generation_goodreads-once_float32.json", "goodreads-once", 0.8),
                                ("generation_ml-1m_float32.json", "ml-1m", 0.3)):
        (results / name).write_text(json.dumps({
            "dataset": dataset, "dtype": "torch.float32",
            "project_profile_and_prediction_shared_prefix": {"responses_per_s": rate}}))
    assert costs.text_rate("goodreads-once") == (0.8, " (benchmark)", False)
    assert costs.text_rate("ml-1m") == (0.3, " (benchmark)", False)
    assert costs.text_rate("amazon-scientific") == (0.8, " (benchmark); of goodreads-once's prompts", False)
    rates_path().parent.mkdir(parents=True)
    mine = {"cpu": cpu_info()[0], "device": "cpu", "dtype": "float32", "kinds": ["profile", "prediction"],
            "batch_size": 64}
    rates_path().write_text(json.dumps({**mine, "dataset": "ml-1m", "responses": 256, "seconds": 512.0}) + "\n")
    assert costs.text_rate("ml-1m") == (0.5, " a process, this machine's 1 call", True)  # its own calls first
    assert costs.text_rate("goodreads-once")[0] == 0.8  # its own benchmark before ML-1M's calls
    assert costs.text_rate("amazon-scientific") == (0.5, " a process, this machine's 1 call on other data sets", True)
    with rates_path().open("a") as log:
        log.write(json.dumps({**mine, "dataset": "goodreads-once", "responses": 256, "seconds": 256.0}) + "\n")
    assert costs.text_rate("goodreads-once") == (1.0, " a process, this machine's 1 call", True)
    assert costs.local_rate(("profile",), "goodreads-once") == (1.0, 1)
    assert costs.local_rate(("profile",), "amazon-scientific") == (pytest.approx(512 / 768), 2)  # every data set's


def test_a_cost_names_the_cpu_it_was_measured_on_when_it_differs_in_hardware_bf16(costs, monkeypatch):
    def run(bf16):
        return {"training": {"train_seconds": 3600.0},
                "provenance": {"machine": {"cpu": "AMD EPYC", "bf16": bf16, "gpu": None}}}

    monkeypatch.setattr("glta.device.cpu_has_bf16", lambda: False)
    assert costs.cost(run(True)) == "3,600 s on another CPU (AMD EPYC, with hardware bf16)"
    assert costs.cost(run(False)) == "3,600 s on the CPU"
    assert costs.cost(run(None)) == "3,600 s on the CPU"  # recorded before the flag was: nothing to say
    monkeypatch.setattr("glta.device.cpu_has_bf16", lambda: True)
    assert costs.cost(run(False)) == "3,600 s on another CPU (AMD EPYC, without hardware bf16)"
    # alike in bf16, unlike in AMX (December 5: ML-1M's GLTA timed on an EPYC, read on a Sapphire Rapids Xeon whose
    # IA epochs took ~4 min against ~7): named, still counted as this CPU's time
    monkeypatch.setattr("glta.device.cpu_flags", lambda: frozenset({"avx512_bf16", "amx_bf16"}))
    epyc = run(True)
    epyc["provenance"]["machine"]["amx"] = False
    assert costs.cost(epyc) == "3,600 s on a CPU without AMX (AMD EPYC)"
    monkeypatch.setattr("glta.device.cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert costs.cost(epyc) == "3,600 s on the CPU"


def made_on_synthetic(variants, name: str, overrides: list[str], seed: int | None = None) -> None:
    """A results file of a GLTA cell (or a seed of one) on the synthetic set, as glta_variants.py would write it:
    its config, 500 s of training, 1 s of wall time (a decoding mode's evaluation)."""
    import json

    path = variants.result_path(Path("results"), "synthetic", name)
    path = path if seed is None else variants.seed_path(path, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = variants.build_config("glta", "synthetic", overrides=overrides).to_dict()
    path.write_text(json.dumps({"provenance": {"config": config, "wall_seconds": 1.0, "machine": {}},
                                "training": {"train_seconds": 500.0},
                                "metrics": {"valid": {"N@10": 0.1}, "test": {"N@10": 0.1}}}))


def test_a_mode_left_on_a_machine_without_the_default_model_queues_that_model_again_then_every_mode(
        planner, experiment, tmp_path, monkeypatch, capsys):
    """While the default has training seeds still to come, each reads the modes out of its own new model (no run of
    hours to train the main one again: December 5, ML-1M's AR); once every seed is trained, a mode left still has
    the main model trained again for it, and every mode read out of the new one."""
    import json

    variants = experiment("glta_variants")
    monkeypatch.chdir(tmp_path)

    def made(name, overrides, seed=None):
        made_on_synthetic(variants, name, overrides, seed)

    made("default", [])
    for name in ("no_ia", "no_ua", "no_pf", "no_pd", "no_pf_pd"):
        path = variants.variant_paths("synthetic", name)[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        config = variants.variant_config("synthetic", name).to_dict()
        path.write_text(json.dumps({"provenance": {"config": config, "machine": {}}, "training": {},
                                    "metrics": {"valid": {"N@10": 0.1}, "test": {"N@10": 0.1}}}))
    made("mode_first_logit", ["model.inference=first_logit"])
    left = planner.Left()
    planner.plan_glta("synthetic", left)
    assert "default" not in left.glta["synthetic"]
    assert left.mode_seeds["synthetic"] == ["first_logit", "autoregressive"]
    assert left.seconds["synthetic", "default"] == 502.0  # a seed's training and both modes' evaluations (1 s each)
    assert "autoregressive to do (an evaluation of the default model) — read out of the default's seeds 2026, 2027" \
        in capsys.readouterr().out
    for seed in (2026, 2027):
        made("default", [f"train.seed={seed}"], seed)
    left = planner.Left()
    planner.plan_glta("synthetic", left)
    assert left.glta["synthetic"][-3:] == ["default", "first_logit", "autoregressive"]
    assert left.seconds["synthetic", "default"] == 500.0
    assert "its model is not on this machine: trained again" in capsys.readouterr().out
    (tmp_path / "runs" / "synthetic" / "glta").mkdir(parents=True)
    (tmp_path / "runs" / "synthetic" / "glta" / "run.json").write_text("{}")
    left = planner.Left()
    planner.plan_glta("synthetic", left)  # the model is here: only the mode left is read out of it
    assert left.glta["synthetic"][-1:] == ["autoregressive"] and "default" not in left.glta["synthetic"]


def test_a_default_seed_trained_here_whose_job_stopped_before_its_modes_runs_again_to_read_them(
        planner, queue, experiment, tmp_path, monkeypatch, capsys):
    """December 5: ML-1M's seed 2026 wrote its results file and was reading AR out of its model when a queue could
    stop; the plan counted the seed as done and named only seed 2027 for AR, so the model on this disk (hours to
    train again) would never have been read. Its job now runs again, first, and trains nothing."""
    variants = experiment("glta_variants")
    monkeypatch.chdir(tmp_path)

    def made(name, overrides, seed=None):
        made_on_synthetic(variants, name, overrides, seed)

    made("default", [])
    made("mode_first_logit", ["model.inference=first_logit"])
    made("default", ["train.seed=2026"], 2026)
    made("mode_first_logit", ["train.seed=2026", "model.inference=first_logit"], 2026)
    assert planner.owed_mode_seeds("synthetic") == []  # seed 2026's model is not here: nothing to read it out of
    # ... which --plan says, instead of a bare "2 of 3 seeds" (amazon-scientific's AR and FL on December 7)
    assert planner.lost_mode_seeds("synthetic", "autoregressive") == [2026]
    assert planner.lost_mode_seeds("synthetic", "first_logit") == []
    planner.plan_glta("synthetic", planner.Left())
    lines = [line for line in capsys.readouterr().out.splitlines() if "glta autoregressive" in line]
    assert "seed 2026 of the default trained on another machine, whose model is not here" in lines[0]
    model = variants.seed_model("synthetic", 2026)
    model.mkdir(parents=True)
    (model / "run.json").write_text("{}")
    assert planner.owed_mode_seeds("synthetic") == [2026]  # AR is not read out of it yet
    assert planner.lost_mode_seeds("synthetic", "autoregressive") == []
    left = planner.Left()
    planner.plan_glta("synthetic", left)
    assert left.owed_modes["synthetic"] == [2026] and left.seeds_left["synthetic", "default"] == [2026, 2027]
    assert left.owed_seconds["synthetic"] == 1.0  # AR alone, at FL's measured second: no training counted
    assert "read out of the default's seeds 2026, 2027" in capsys.readouterr().out
    made("default", ["train.seed=2027"], 2027)  # every seed has its file: seed 2026's reads still run
    for mode in ("first_logit", "autoregressive"):  # (2027's modes too, else its model, not here, is a lost one)
        made(f"mode_{mode}", ["train.seed=2027", f"model.inference={mode}"], 2027)
    left = planner.Left()
    planner.plan_glta("synthetic", left)
    assert left.seeds_left["synthetic", "default"] == [2026] and "default" not in left.glta.get("synthetic", [])
    assert left.owed_seconds["synthetic"] == 1.0  # AR, as FL's measured evaluation: no training counted
    left.glta = {}
    assert planner.seconds_left(left).total == 1.0
    left.glta["synthetic"] = ["no_ia"]
    left.seconds["synthetic", "no_ia"] = 9000.0
    names = [job.name for job in queue.queue_jobs(left, tmp_path / "logs", workers=2)]
    assert names[0] == "seed-synthetic-default-2026" and "seed-synthetic-default-2027" not in names
    made("mode_autoregressive", ["train.seed=2026", "model.inference=autoregressive"], 2026)
    assert planner.owed_mode_seeds("synthetic") == []


def test_a_default_seed_whose_model_was_lost_is_queued_again_after_the_other_glta_seeds(
        planner, queue, experiment, tmp_path, monkeypatch, capsys):
    """December 7: amazon-scientific's FL and AR stayed at 2 of 3 seeds because the default's seed 2026 was trained
    on a machine since lost; the queue left it out for good. It now trains that seed again (seeds.py
    --retrain-lost), after the GLTA seeds that are still missing, and counts its time."""
    variants = experiment("glta_variants")
    monkeypatch.chdir(tmp_path)
    made_on_synthetic(variants, "default", [])
    for mode in ("first_logit", "autoregressive"):  # read out of the main model
        made_on_synthetic(variants, f"mode_{mode}", [f"model.inference={mode}"])
    made_on_synthetic(variants, "default", ["train.seed=2026"], 2026)  # no model here
    made_on_synthetic(variants, "default", ["train.seed=2027"], 2027)
    for mode in ("first_logit", "autoregressive"):  # read out of seed 2027's model, which is here
        made_on_synthetic(variants, f"mode_{mode}", ["train.seed=2027", f"model.inference={mode}"], 2027)
    made_on_synthetic(variants, "no_ia", ["model.use_ia=false"])
    model = variants.seed_model("synthetic", 2027)
    model.mkdir(parents=True)
    (model / "run.json").write_text("{}")
    left = planner.Left()
    planner.plan_glta("synthetic", left)
    out = capsys.readouterr().out
    assert left.lost_models["synthetic"] == [2026] and left.seeds_left["synthetic", "default"] == [2026]
    assert "seed 2026 trained again here for the decoding modes" in out
    assert "the queue trains it again and reads this mode out of the new model" in out
    assert planner.seconds_left(left).total >= 500.0  # the default's seed counted, not left out
    jobs = queue.queue_jobs(left, tmp_path / "logs", workers=2)
    names = [job.name for job in jobs]
    retrain = jobs[names.index("seed-synthetic-default-2026")]
    assert "--retrain-lost" in retrain.command and "--retrain-lost" not in jobs[names.index(
        "seed-synthetic-no_ia-2026")].command  # (every default seed's job has it: it acts on a lost model alone)
    assert names.index("seed-synthetic-no_ia-2027") < names.index("seed-synthetic-default-2026")


def test_a_modes_time_here_comes_from_its_run_on_a_cpu_like_this_one(costs, experiment, tmp_path, monkeypatch):
    """December 5: ML-1M's FL took 1,219 s on the AVX-512 EPYC (its main run) and 239 s on the AMX Xeon (read out of
    seed 2026); on the Xeon the plan estimated the next seed's FL at the EPYC's 1,219 s."""
    import json

    variants = experiment("glta_variants")
    monkeypatch.chdir(tmp_path)
    main = variants.result_path(Path("results"), "ml-1m", "mode_first_logit")
    for path, seconds, amx in ((main, 1219.0, False), (variants.seed_path(main, 2026), 239.0, True)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"provenance": {"wall_seconds": seconds, "machine": {"bf16": True, "amx": amx}},
                                    "metrics": {"valid": {"N@10": 0.1}, "test": {"N@10": 0.1}}}))
    monkeypatch.setattr("glta.device.cpu_flags", lambda: frozenset({"avx512_bf16", "amx_bf16"}))
    assert costs.mode_seconds_here("ml-1m", "first_logit") == 239.0
    monkeypatch.setattr("glta.device.cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert costs.mode_seconds_here("ml-1m", "first_logit") == 1219.0
    monkeypatch.setattr("glta.device.cpu_flags", lambda: frozenset({"avx2"}))  # neither is alike: the main run's
    assert costs.mode_seconds_here("ml-1m", "first_logit") == 1219.0
    assert costs.mode_seconds_here("ml-1m", "autoregressive") is None
    # a cell's seeds: the time of the run made on a CPU like this one, else the main run's
    runs = [{"provenance": {"machine": {"bf16": True, "amx": False}}, "training": {"train_seconds": 14677.0}},
            {"provenance": {"machine": {"bf16": True, "amx": True}}, "training": {"train_seconds": 9022.0}}]
    monkeypatch.setattr("glta.device.cpu_flags", lambda: frozenset({"avx512_bf16", "amx_bf16"}))
    assert costs.like_run(runs) is runs[1]
    monkeypatch.setattr("glta.device.cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert costs.like_run(runs) is runs[0]


def test_the_plan_says_where_a_baselines_interrupted_grid_point_and_seeds_stand(planner, tmp_path, monkeypatch):
    """On a CPU a goodreads-once grid point or seed spans sessions: the plan's line says how far each got here."""
    from glta.checkpoint import CHECKPOINT_NAME, save_checkpoint

    monkeypatch.chdir(tmp_path)
    bookkeeping = {"epoch": 11, "best_score": 0.0612, "best_epoch": 9, "in_epoch": None}
    for folder in ("runs/d/lightgcn_plus/grid/align_weight=0.001", "runs/d/seeds/lightgcn_plus-2027",
                   "runs/d/seeds/lightgcn-2026"):
        (tmp_path / folder).mkdir(parents=True)
        save_checkpoint(tmp_path / folder / CHECKPOINT_NAME, bookkeeping)
    line = planner.under_way("d", "lightgcn_plus")
    assert line == ("; under way here: grid point align_weight=0.001: 12 epochs done, best validation 0.0612 after "
                    "epoch 9; seed 2027: 12 epochs done, best validation 0.0612 after epoch 9 (the queue continues "
                    "it)")
    assert "seed 2026" in planner.under_way("d", "lightgcn") and planner.under_way("d", "hccf") == ""


def test_only_the_two_strongest_baselines_seeds_come_before_glta_the_others_go_last(
        planner, queue, tmp_path, monkeypatch, capsys):
    """Issue 14's order when compute runs short: GLTA's cells and the two best baselines on validation get their
    seeds first; a weaker baseline's seeds wait, even where they are the shortest jobs."""
    import json

    monkeypatch.setattr("glta.results.provenance_status", lambda prov: "clean")  # no grid is queued again
    monkeypatch.chdir(tmp_path)
    for method, valid in {"lightgcn": 0.30, "hccf": 0.20, "lightgcn_plus": 0.31, "rlmrec_con": 0.29}.items():
        path = tmp_path / "results" / "d" / f"{method}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"provenance": {"machine": {}}, "training": {"train_seconds": 9.0},
                                    "metrics": {"valid": {"N@10": valid}, "test": {"N@10": valid}},
                                    "per_user_test": {"metric": "N@10", "users": [0], "values": [valid]}}))
    left = planner.Left()
    planner.plan_baselines("d", left, texts_written=True)
    assert sorted(left.seeds["d"]) == ["hccf", "lightgcn", "lightgcn_plus", "rlmrec_con"]
    assert sorted(left.later_seeds["d"]) == ["hccf", "rlmrec_con"] and not left.per_user
    left.glta_seeds = {"d": ["glta_plus"]}
    left.seconds.update({("d", "glta_plus"): 4000.0, ("d", "rlmrec_con"): 3000.0, ("d", "lightgcn"): 9000.0})
    for shortest_first in (True, False):
        names = [job.name.removesuffix("-2026") for job in queue.queue_jobs(left, tmp_path / "logs",
                                                                            shortest_first=shortest_first)
                 if not job.name.endswith("-2027")]
        assert names[-2:] == ["seed-d-hccf", "seed-d-rlmrec_con"] if shortest_first else \
            names[-2:] == ["seed-d-rlmrec_con", "seed-d-hccf"]
        assert "seed-d-lightgcn_plus" in names[:3] and names[-3] == "seed-d-glta_plus"  # before the weaker ones

    # a main run made before per-user values were recorded: its grid is retrained (the chosen point alone, by
    # tune's --retrain), after the GLTA seeds and before the weaker baselines' seeds
    path = tmp_path / "results" / "d" / "lightgcn_plus.json"
    path.write_text(json.dumps({key: value for key, value in json.loads(path.read_text()).items()
                                if key != "per_user_test"}))
    left = planner.Left(glta_seeds={"d": ["glta_plus"]})
    planner.plan_baselines("d", left, texts_written=True)
    assert left.per_user == {"d": ["lightgcn_plus"]} and not left.grids
    left.seconds.update({("d", "glta_plus"): 4000.0, ("d", "lightgcn_plus"): 9000.0})
    for shortest_first in (True, False):
        jobs = {job.name: job for job in queue.queue_jobs(left, tmp_path / "logs", shortest_first=shortest_first)}
        names = [name.removesuffix("-2026") for name in jobs if not name.endswith("-2027")]
        assert names[-4:-2] == ["seed-d-glta_plus", "grid-d-lightgcn_plus"]
        assert "--retrain" in jobs["grid-d-lightgcn_plus"].command
    assert "its main run keeps no per-user test values" in capsys.readouterr().out


def test_texts_under_two_processes_stop_at_a_signal_in_one_line_not_torchruns_traceback(tmp_path):
    """The queue stops its jobs with SIGINT to their process group; torchrun's agent used to end every stopped
    texts job's log with an uncaught SignalException's traceback."""
    import os
    import signal
    import subprocess

    started = tmp_path / "started"
    worker = tmp_path / "worker.py"
    worker.write_text(f"import pathlib, time\npathlib.Path({str(started)!r}).write_text('1')\n"
                      "try:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    print('worker: interrupted')\n")
    launch = Path(__file__).resolve().parents[1] / "experiments" / "launch.py"
    proc = subprocess.Popen([sys.executable, str(launch), "--standalone", "--nproc-per-node", "1", str(worker)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    end = time.time() + 60
    while not started.exists() and time.time() < end and proc.poll() is None:
        time.sleep(0.1)
    assert started.exists(), proc.communicate()[0]
    os.killpg(proc.pid, signal.SIGINT)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 128 + signal.SIGINT
    assert "launch: stopped by signal" in output and "Traceback" not in output, output


def test_a_glta_cell_without_a_run_is_estimated_from_its_ratio_to_the_default_elsewhere(
        planner, queue, tmp_path, monkeypatch):
    """amazon-scientific's GLTA+ was planned at its GLTA's 19,600 s while on ML-1M GLTA+ took a seventh of GLTA's
    time: the ratio measured there scales the estimate (and the shortest-first order)."""
    import json

    monkeypatch.chdir(tmp_path)

    def made(dataset, name, seconds, machine=None):
        path = tmp_path / "results" / dataset / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"provenance": {"machine": machine or {}, "peak_memory": {"resident_gib": 6.5}},
                                    "training": {"train_seconds": seconds},
                                    "metrics": {"valid": {"N@10": 0.1}, "test": {"N@10": 0.1}}}))

    made("ml-1m", "glta.json", 28000.0, {"bf16": True})
    made("ml-1m", "glta_plus.json", 4000.0, {"bf16": True})
    made("amazon-scientific", "glta.json", 21000.0)
    assert planner.time_ratio("amazon-scientific", "glta_plus") == (4000.0 / 28000.0, "ml-1m")
    # a cell timed on a CPU unlike the default's in hardware bf16 (or on a GPU) gives no ratio: it would count the
    # machines' difference in as the cell's
    made("ml-1m", "glta_variants/no_pf_pd.json", 45000.0, {"bf16": False})
    made("ml-1m", "glta_variants/no_pd.json", 200.0, {"bf16": True, "gpu": "NVIDIA H200"})
    assert planner.time_ratio("amazon-scientific", "no_pf_pd") is None
    assert planner.time_ratio("amazon-scientific", "no_pd") is None
    for path in ("no_pf_pd", "no_pd"):
        (tmp_path / "results" / "ml-1m" / "glta_variants" / f"{path}.json").unlink()
    assert planner.time_ratio("amazon-scientific", "no_ia") is None  # run nowhere: the default's own time
    assert planner.time_ratio("amazon-scientific", "default") is None
    left = planner.Left()
    planner.plan_glta("amazon-scientific", left)
    assert left.seconds["amazon-scientific", "glta_plus"] == pytest.approx(3000.0)
    assert left.seconds["amazon-scientific", "no_ia"] == 21000.0
    assert left.memory["amazon-scientific", "glta_plus"] == 6.5 * 2**30  # the queue weighs it (run_jobs' memory)
    jobs = {job.name: job for job in queue.queue_jobs(left, tmp_path / "logs")}
    assert jobs["glta-amazon-scientific-glta_plus"].memory == 6.5 * 2**30


def test_a_data_set_whose_glta_never_ran_is_estimated_by_scaling_another_data_sets_default(planner, costs, queue,
                                                                                           tmp_path, monkeypatch):
    """goodreads-once's ten GLTA cells were "not counted" in --plan: no like run, so the plan could not say whether
    they are hours or days of this CPU. ML-1M's default, scaled by users (UA) and items (IA), now estimates them; the
    estimate is counted and named, but a measured like run still orders the queue."""
    import json

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(costs, "dataset_sizes", lambda dataset: {"ml-1m": (6000, 4000),
                                                                 "goodreads-once": (24000, 16000)}[dataset])

    def made(name, seconds, ia=0.0):
        path = tmp_path / "results" / "ml-1m" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"provenance": {"machine": {}},
                                    "training": {"train_seconds": seconds, "ia_seconds": ia},
                                    "metrics": {"valid": {"N@10": 0.1}, "test": {"N@10": 0.1}}}))

    made("glta.json", 8000.0, ia=1000.0)
    made("glta_plus.json", 2250.0)  # a quarter of the default's 9,000 s
    left = planner.Left()
    planner.plan_glta("goodreads-once", left)
    default = 1000.0 * 16000 / 4000 + 8000.0 * 24000 / 6000  # IA by items, the rest by users
    assert left.scaled["goodreads-once", "default"] == pytest.approx(default)
    assert left.scaled["goodreads-once", "glta_plus"] == pytest.approx(default / 4)
    assert left.scaled["goodreads-once", "no_pf"] == pytest.approx(default)  # no ratio measured: the default's
    assert ("goodreads-once", "autoregressive") not in left.scaled  # evaluations timed nowhere: no scale
    assert not any(cell[0] == "goodreads-once" for cell in left.seconds)  # not a like run's time
    remaining = planner.seconds_left(left)
    assert remaining.total == pytest.approx(3 * sum(left.scaled.values()))  # with each cell's two extra seeds
    assert "goodreads-once glta default" in remaining.estimated_jobs
    modes = ("first_logit", "autoregressive")
    assert remaining.unknown == ["goodreads-once's frozen LightGCN"] + [
        f"goodreads-once glta {mode}{seeds}" for seeds in ("", "'s seeds") for mode in modes]
    assert "count at another data set's default scaled by users and items" in planner.left_line(left)
    assert "ml-1m's default (9,000 s on the CPU) scaled to 24,000 users" in planner.scaled_note(
        left, "goodreads-once", "default")
    # where no other data set has a default timed on a machine like this one, one timed on a CPU with hardware bf16
    # counts at the ratios measured between that kind of CPU and this one (IA apart from the rest), else nothing
    import glta.device

    monkeypatch.setattr(glta.device, "cpu_has_bf16", lambda: False)  # this CPU: none (the AVX2-only EPYC)
    record = json.loads((tmp_path / "results" / "ml-1m" / "glta.json").read_text())
    record["provenance"]["machine"] = {"bf16": True}
    (tmp_path / "results" / "ml-1m" / "glta.json").write_text(json.dumps(record))
    assert planner.scaled_default("goodreads-once") is None
    left = planner.Left(cpu_ratio=(2.0, ["ml-1m"]), cpu_ua_ratio=(3.0, ["ml-1m"]))
    seconds, basis = planner.scaled_default("goodreads-once", left)
    assert seconds == pytest.approx(1000.0 * 2.0 * 16000 / 4000 + 8000.0 * 3.0 * 24000 / 6000)
    assert "at 2.00 (IA) and 3.00 (the rest) of that CPU's time here scaled to 24,000 users" in basis
    assert planner.scaled_default("goodreads-once", planner.Left(cpu_ratio=(2.0, ["ml-1m"])))[0] == \
        pytest.approx(9000.0 * 2.0 * 4)  # no UA ratio measured: the IA one for all of it (users and items x4 here)
    (tmp_path / "results" / "ml-1m" / "glta.json").unlink()
    assert planner.scaled_default("goodreads-once", left) is None


def amazon_default_with_ia(tmp_path, monkeypatch) -> None:
    """amazon-scientific's GLTA results file, in ``tmp_path`` made the working folder: 15,000 s of training, 4,000 of
    them IA."""
    import json

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "results" / "amazon-scientific" / "glta.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"provenance": {"machine": {}},
                                "training": {"train_seconds": 11000.0, "ia_seconds": 4000.0},
                                "metrics": {"valid": {"N@10": 0.1}, "test": {"N@10": 0.1}}}))


def every_seed_trained(tmp_path, dataset: str) -> None:
    """The default's extra training seeds' results files, as if trained on another machine: a decoding mode not
    read out yet has no seed left to come and needs the main model trained again."""
    import json

    for seed in (2026, 2027):
        path = tmp_path / "results" / dataset / "seeds" / f"glta-{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"provenance": {"machine": {}}, "training": {"train_seconds": 11000.0},
                                    "metrics": {"valid": {"N@10": 0.1}, "test": {"N@10": 0.1}}}))


def test_an_ablation_whose_ia_result_is_cached_is_planned_without_ia(planner, tmp_path, monkeypatch, capsys):
    """amazon-scientific's PF/PD ablations reuse the default's cached IA: the plan counted its 4,057 s of IA for
    each of them all the same."""
    import glta.models.glta as glta_module

    amazon_default_with_ia(tmp_path, monkeypatch)
    cache = tmp_path / "ia.safetensors"
    monkeypatch.setattr(glta_module, "cached_ia", lambda run, dataset: cache if run.model.use_profile else None)
    left = planner.Left()
    planner.plan_glta("amazon-scientific", left)
    assert left.seconds["amazon-scientific", "no_pd"] == 11000.0  # its IA is cached: UA only
    assert left.seconds["amazon-scientific", "no_pf"] == 15000.0  # (here) not cached: IA counts
    assert "less its IA's 4,000 s, whose result is cached here" in capsys.readouterr().out


def test_an_ablation_sharing_the_ia_of_a_default_to_be_trained_here_is_planned_without_ia(
        planner, tmp_path, monkeypatch, capsys):
    """On a fresh machine ML-1M's default is trained again (for the decoding modes) and caches the IA stage its
    PF/PD and w/o UA ablations then read (or wait for, started beside it): the plan counted IA for each of them."""
    import glta.models.glta as glta_module

    amazon_default_with_ia(tmp_path, monkeypatch)
    every_seed_trained(tmp_path, "amazon-scientific")
    monkeypatch.setattr(glta_module, "cached_ia", lambda run, dataset: None)  # nothing cached yet
    shared, own = tmp_path / "ia-default.safetensors", tmp_path / "ia-other.safetensors"
    monkeypatch.setattr(glta_module, "ia_result_path",
                        lambda run, dataset: (shared if run.model.use_profile else own) if run.model.use_ia else None)
    left = planner.Left()
    planner.plan_glta("amazon-scientific", left)  # the default's model is not here: it is trained again
    assert "default" in left.glta["amazon-scientific"]
    assert left.seconds["amazon-scientific", "default"] == 15000.0  # it trains the IA (4,000 s of its 15,000)
    assert left.seconds["amazon-scientific", "no_pd"] == 11000.0  # reads the default's: UA only
    assert left.seconds["amazon-scientific", "no_pf"] == 15000.0  # (here) an IA of its own
    assert "less its IA's 4,000 s, whose result the default's run here makes first" in capsys.readouterr().out


def test_a_decoding_mode_is_estimated_from_its_evaluation_elsewhere_and_runs_once_its_model_is_trained(
        planner, queue, tmp_path, monkeypatch, capsys):
    """A decoding mode's job once had no estimate, so ``--shortest-first`` put amazon-scientific's FL (minutes, once
    the default model it reads is trained) behind every 5-hour seed and ablation: its evaluation elsewhere scales
    it like a variant, and it goes right after the default it waits on; AR, measured nowhere, takes FL's estimate (an
    evaluation either way); with no mode measured anywhere the modes go last."""
    import json

    monkeypatch.chdir(tmp_path)

    def made(dataset, name, provenance, training=None):
        path = tmp_path / "results" / dataset / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"provenance": {"machine": {}, **provenance}, "training": training or {},
                                    "metrics": {"valid": {"N@10": 0.1}, "test": {"N@10": 0.1}}}))

    made("ml-1m", "glta.json", {}, {"train_seconds": 28000.0})
    made("ml-1m", "glta_variants/mode_first_logit.json", {"wall_seconds": 1400.0})
    made("amazon-scientific", "glta.json", {}, {"train_seconds": 21000.0})
    every_seed_trained(tmp_path, "amazon-scientific")
    assert planner.time_ratio("amazon-scientific", "first_logit") == (1400.0 / 28000.0, "ml-1m")
    assert planner.time_ratio("amazon-scientific", "autoregressive") is None
    left = planner.Left()
    planner.plan_glta("amazon-scientific", left)  # its model is not here: the default is trained again first
    assert {"default", "first_logit", "autoregressive"} <= set(left.glta["amazon-scientific"])
    assert left.seconds["amazon-scientific", "first_logit"] == pytest.approx(1050.0)
    assert left.seconds["amazon-scientific", "autoregressive"] == pytest.approx(1050.0)  # FL's: AR ran nowhere
    assert "autoregressive to do (an evaluation of the default model, ~1,050 s as first_logit's" in \
        capsys.readouterr().out
    left.glta_seeds["amazon-scientific"] = ["default"]
    left.seconds["amazon-scientific", "no_ia"] = 21000.0
    order = [job.name for job in queue.queue_jobs(left, tmp_path / "logs", shortest_first=True)]
    at = order.index("glta-amazon-scientific-default")  # the modes right after the default they wait on
    assert order[at + 1:at + 3] == ["glta-amazon-scientific-first_logit", "glta-amazon-scientific-autoregressive"]
    (tmp_path / "results" / "ml-1m" / "glta_variants" / "mode_first_logit.json").unlink()
    left = planner.Left()
    planner.plan_glta("amazon-scientific", left)  # measured nowhere: no estimate, still right after the default
    assert not {("amazon-scientific", mode) for mode in ("first_logit", "autoregressive")} & set(left.seconds)
    left.glta_seeds["amazon-scientific"] = ["default"]
    order = [job.name for job in queue.queue_jobs(left, tmp_path / "logs", shortest_first=True)]
    at = order.index("glta-amazon-scientific-default")
    assert order[at + 1:at + 3] == ["glta-amazon-scientific-first_logit", "glta-amazon-scientific-autoregressive"]
    assert order[-2:] == ["seed-amazon-scientific-default-2026", "seed-amazon-scientific-default-2027"]
    mode = next(job for job in queue.queue_jobs(left, tmp_path / "logs", shortest_first=True)
                if job.name == "glta-amazon-scientific-first_logit")
    assert "glta-amazon-scientific-default" in mode.after  # run_jobs holds it until its model is trained


def test_the_plan_totals_what_is_left_by_like_runs_and_names_what_it_cannot_time(planner, left, tmp_path, monkeypatch):
    """--plan listed each cell's cost but no sum, so how many days of this CPU the reproduction still needs (and
    whether to wait for a GPU) took adding up twenty lines by hand."""
    monkeypatch.chdir(tmp_path)
    remaining = planner.seconds_left(left)
    total, texts, unknown = remaining.total, remaining.texts, remaining.unknown
    # GLTA 3 x 5,000 + GLTA+ 2,300 + EASE 15 + the retrained grid 124 and both its seeds + two seeds each of HCCF,
    # and the two extra seeds each of the GLTA cells with no run yet (AR read out of each of the default's seeds)
    assert total == 15000 + 2300 + 15 + 124 + 2 * 124 + 2 * 9000 + 2 * 220 + 2 * (15000 + 2300)
    assert texts == 0
    assert unknown == ["ml-1m's texts", "ml-1m's frozen LightGCN", "amazon-scientific pop"]
    seed = tmp_path / "results" / "goodreads-once" / "seeds" / "hccf-2026.json"
    seed.parent.mkdir(parents=True)
    seed.write_text("{}")  # made already: not counted again
    left.text_seconds["ml-1m"] = 36000.0
    left.seconds["ml-1m", "lightgcn"] = 800.0
    remaining = planner.seconds_left(left)
    total, texts, unknown = remaining.total, remaining.texts, remaining.unknown
    assert (total, texts) == (15000 + 2300 + 15 + 124 + 2 * 124 + 9000 + 2 * 220 + 2 * (15000 + 2300) + 36000 + 800,
                              36000)
    assert unknown == ["amazon-scientific pop"]
    line = planner.left_line(left)
    assert line.startswith(f"Left: ~{total / 3600:.1f} h of one core") and "(the texts ~10.0 h of it)" in line
    assert f"~{total / 7200:.1f} h of wall time for `--jobs 2`" in line and "not counted: amazon-scientific pop" in line
    assert planner.left_line(planner.Left()) == "Left: nothing"


def test_a_cell_timed_only_on_a_gpu_is_named_not_counted_in_the_cpus_total(planner, tmp_path, monkeypatch):
    """goodreads-once's LightGCN+ grid and seeds (124 s each on an H200) counted as minutes of this CPU, where a
    LightGCN run alone takes 1,021 s."""
    import json

    monkeypatch.chdir(tmp_path)
    for method, machine in (("lightgcn_plus", {"gpu": "NVIDIA H200"}), ("hccf", {})):
        path = tmp_path / "results" / "goodreads-once" / f"{method}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"provenance": {"machine": machine, "git_commit": "0" * 40},
                                    "training": {"train_seconds": 124.0},
                                    "metrics": {"valid": {"N@10": 0.1}, "test": {"N@10": 0.1}}}))
    left = planner.Left()
    planner.plan_baselines("goodreads-once", left, texts_written=True)
    assert left.seconds["goodreads-once", "lightgcn_plus"] == 124.0  # still orders the queue
    total, unknown = planner.seconds_left(left).total, planner.seconds_left(left).unknown
    assert any(what.startswith("goodreads-once lightgcn_plus") for what in unknown)
    assert not any(what.startswith("goodreads-once hccf ") or what.startswith("goodreads-once grid of hccf")
                   for what in unknown) and total >= 2 * 124.0  # the CPU's grid and seeds count
    # once a run of the cell is under way here, its pace so far times the GPU run's epochs counts instead
    from glta.checkpoint import CHECKPOINT_NAME, save_checkpoint

    record = json.loads((tmp_path / "results" / "goodreads-once" / "lightgcn_plus.json").read_text())
    record["training"]["epochs_run"] = 104
    (tmp_path / "results" / "goodreads-once" / "lightgcn_plus.json").write_text(json.dumps(record))
    folder = tmp_path / "runs" / "goodreads-once" / "seeds" / "lightgcn_plus-2026"
    folder.mkdir(parents=True)
    save_checkpoint(folder / CHECKPOINT_NAME, {"epoch": 3, "best_score": 0.07, "best_epoch": 3, "in_epoch": None,
                                               "history": [{"epoch": 1, "seconds": 260.0},
                                                           {"epoch": 3, "seconds": 520.0}]})  # 130 s an epoch
    left = planner.Left()
    planner.plan_baselines("goodreads-once", left, texts_written=True)
    assert left.seconds["goodreads-once", "lightgcn_plus"] == 104 * 130.0
    assert not any(what.startswith("goodreads-once lightgcn_plus") for what in planner.seconds_left(left).unknown)


def test_a_cell_trained_on_a_gpu_counts_a_seed_a_cpu_trained(planner, tmp_path, monkeypatch):
    """goodreads-once's HCCF: the grid on an H200 (102 s), seed 2026 on a CPU (11,467 s): the seed left counts the
    CPU's time, not "no like run has timed it"."""
    import json

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "results" / "goodreads-once"
    for name, machine, seconds in (("hccf.json", {"gpu": "NVIDIA H200"}, 102.0),
                                   ("seeds/hccf-2026.json", {"gpu": None, "cpu": "AMD EPYC"}, 11467.0)):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps({"provenance": {"machine": machine, "git_commit": "0" * 40},
                                               "training": {"train_seconds": seconds},
                                               "metrics": {"valid": {"N@10": 0.06}, "test": {"N@10": 0.06}}}))
    left = planner.Left()
    planner.plan_baselines("goodreads-once", left, texts_written=True)
    assert left.seconds["goodreads-once", "hccf"] == 11467.0
    remaining = planner.seconds_left(left)
    assert not [what for what in remaining.unknown if what.split("'")[0] == "goodreads-once hccf"]
    assert remaining.total >= 11467.0  # seed 2027, the one left


def test_glta_cells_timed_on_a_cpu_unlike_this_one_in_bf16_are_summed_apart(reproduce, planner, costs, tmp_path,
                                                                            monkeypatch):
    """On an AVX2-only CPU (the LLM in fp32) --plan added ML-1M's GLTA cells at the seconds a CPU with hardware bf16
    took, into a total it called this CPU's: several times too few hours for them."""
    import json

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("glta.device.cpu_has_bf16", lambda: False)
    path = tmp_path / "results" / "ml-1m" / "glta.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"provenance": {"machine": {"cpu": "AMD EPYC", "bf16": True},
                                               "git_commit": "0" * 40},
                                "training": {"train_seconds": 7200.0},
                                "metrics": {"valid": {"N@10": 0.1}, "test": {"N@10": 0.1}}}))
    assert costs.bf16_differs(json.loads(path.read_text()))
    assert not costs.bf16_differs({"provenance": {"machine": {"cpu": "AMD EPYC"}}})  # unrecorded: alike
    left = planner.Left(glta={"ml-1m": ["no_pf"]}, seconds={("ml-1m", "no_pf"): 7200.0, ("ml-1m", "pop"): 3600.0},
                        mains={"ml-1m": ["pop"]}, other_cpu_timed={("ml-1m", "no_pf")})
    remaining = planner.seconds_left(left)
    jobs = ["ml-1m glta no_pf", "ml-1m glta no_pf's seeds"]  # popularity is deterministic: no seeds
    assert (remaining.total, remaining.elsewhere, remaining.elsewhere_jobs) == (3600.0, 3 * 7200.0, jobs)
    line = planner.left_line(left)
    assert line.startswith("Left: ~1.0 h of one core on this CPU")
    assert "apart from it, ~6.0 h of one core on a CPU with hardware bf16, the only kind that timed ml-1m glta " \
           "no_pf, ml-1m glta no_pf's seeds (their LLM runs in fp32 here; no stage has trained on both kinds" in line
    # once one has, they count in this CPU's total at the measured ratio, named with it
    left.cpu_ratio = (1.25, ["amazon-scientific"])
    remaining = planner.seconds_left(left)
    assert (remaining.total, remaining.elsewhere, remaining.scaled_jobs) == (3600.0 + 3 * 9000.0, 0.0, jobs)
    line = planner.left_line(left)
    assert line.startswith("Left: ~8.5 h of one core on this CPU") and "apart from it" not in line
    assert "ml-1m glta no_pf, ml-1m glta no_pf's seeds, timed only on a CPU with hardware bf16, count at 1.25 times " \
           "that CPU's time: this " \
           "one's over it for an IA stage trained on both (amazon-scientific)" in line
    assert planner.here_at_ratio(left, "ml-1m", "no_pf") == "; here ~9,000 s at the measured 1.25"  # its plan line
    assert planner.here_at_ratio(left, "ml-1m", "pop") == ""  # timed here
    left.cpu_ratio = None
    # plan_glta marks them: the default's run, which every estimate of the data set scales, was on such a CPU
    monkeypatch.setattr(reproduce.glta_variants, "model_needed", lambda *_: False)
    monkeypatch.setattr(reproduce.glta_variants, "mode_is_done", lambda *_: True)
    monkeypatch.setattr(planner, "ia_saving", lambda *_: (0.0, ""))
    import gpu_session

    monkeypatch.setattr(gpu_session, "graphs_read", lambda *_: [])
    left = planner.Left()
    planner.plan_glta("ml-1m", left)
    assert ("ml-1m", "no_pf") in left.other_cpu_timed and ("ml-1m", "default") in left.other_cpu_timed  # its seeds
    monkeypatch.setattr("glta.device.cpu_has_bf16", lambda: True)  # on a CPU like the one that timed it: counted
    left = planner.Left()
    planner.plan_glta("ml-1m", left)
    assert not left.other_cpu_timed and left.seconds["ml-1m", "no_pf"] == 7200.0


def test_the_queue_orders_a_cell_timed_on_a_cpu_unlike_this_one_by_its_time_here(planner, queue, tmp_path):
    """Ordered by the other CPU's seconds, a cell that takes 1.6 times as long here sat behind a longer-looking one."""
    left = planner.Left(glta={"ml-1m": ["no_pf", "no_pd"]},
                        seconds={("ml-1m", "no_pf"): 5000.0, ("ml-1m", "no_pd"): 7000.0},
                        other_cpu_timed={("ml-1m", "no_pf")})
    order = [job.name for job in queue.queue_jobs(left, tmp_path)]
    assert order == ["glta-ml-1m-no_pd", "glta-ml-1m-no_pf"]  # no ratio measured: as timed
    left.cpu_ratio = (1.6, ["amazon-scientific"])
    assert left.seconds_here(("ml-1m", "no_pf")) == 8000.0 and left.seconds_here(("ml-1m", "no_pd")) == 7000.0
    assert left.seconds_here(None) == 0.0
    assert [job.name for job in queue.queue_jobs(left, tmp_path)] == ["glta-ml-1m-no_pf", "glta-ml-1m-no_pd"]
    shortest = [job.name for job in queue.queue_jobs(left, tmp_path, shortest_first=True)]
    assert shortest == ["glta-ml-1m-no_pd", "glta-ml-1m-no_pf"]


def test_the_cpu_ratio_is_measured_by_an_ia_stage_trained_on_both_kinds_of_cpu(planner, costs, tmp_path, monkeypatch,
                                                                               capsys):
    """The plan took GLTA in fp32 (a CPU without hardware bf16) to be several times slower than in bf16 and left it
    to a lent GPU; amazon-scientific's IA, the same stage on both kinds, took 1.29 times as long. The ratio comes
    from IA stages of equal settings only (another seed, a GPU or an unrecorded CPU pairs with nothing)."""
    import json

    from glta.config import build_config

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("glta.device.cpu_has_bf16", lambda: False)

    def write(name, bf16, ia_seconds, *overrides, gpu=None):
        config = build_config("glta", "amazon-scientific", overrides=list(overrides)).to_dict()
        path = tmp_path / "results" / "amazon-scientific" / (
            "glta.json" if name == "default" else f"glta_variants/{name}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"provenance": {"config": config, "machine": {"bf16": bf16, "gpu": gpu}},
                                    "training": {"train_seconds": 1000.0, "ia_seconds": ia_seconds}}))

    write("default", True, 4000.0)
    assert costs.cpu_ratio() is None  # one kind only
    write("no_pf", None, 9000.0)  # unrecorded CPU
    write("no_pd", False, 5000.0, "train.seed=7")  # another seed: another IA stage
    write("no_ua", False, 1.0, gpu="NVIDIA H200")
    assert costs.cpu_ratio() is None
    write("no_pf_pd", False, 5000.0, "model.use_profile=false", "model.use_prediction=false")  # UA settings differ
    assert costs.cpu_ratio() == (1.25, ["amazon-scientific"])
    # on such a CPU the plan then suggests the queue with the texts of the cheapest data set, not --no-llm
    planner.print_commands(planner.Left(text_seconds={"ml-1m": 16000.0, "goodreads-once": 60000.0},
                                        texts=["ml-1m", "goodreads-once"], cpu_ratio=(1.25, ["amazon-scientific"])))
    out = capsys.readouterr().out
    assert "--jobs 2 --hours 2.5 --texts-for ml-1m --no-progress" in out and "--no-llm" not in out
    assert "its GLTA took 1.25 times the time of one with it" in out


def test_texts_for_a_data_set_the_queue_does_not_cover_is_refused_in_one_line(reproduce, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["reproduce.py", "--datasets", "ml-1m", "--jobs", "2", "--texts-for",
                                      "amazon-scientific"])
    with pytest.raises(SystemExit):
        reproduce.main()
    assert "--texts-for amazon-scientific: not among --datasets (ml-1m)" in capsys.readouterr().err
    for entry, said in (("ml-1m:profile,summary", "--texts-for ml-1m:profile,summary: unknown kind(s) summary; "
                                                  "choose from profile, prediction, item_profile"),
                        ("ml-1m:", "--texts-for ml-1m:: no kind named"),
                        ("amazon-scientific:profile", "--texts-for amazon-scientific: not among --datasets")):
        monkeypatch.setattr(sys, "argv", ["reproduce.py", "--datasets", "ml-1m", "--jobs", "2", "--texts-for", entry])
        with pytest.raises(SystemExit):
            reproduce.main()
        assert said in capsys.readouterr().err


def test_texts_for_some_kinds_writes_those_and_keeps_the_cells_they_feed(queue, tmp_path, monkeypatch):
    """goodreads-once:profile,item_profile: the texts job writes those two kinds alone (RLMRec's; a later queue
    trains it), w/o PD (profile only) and w/o PF&PD stay, the cells that read predictions go; a kind already
    written (nothing missing) is not a kind to write, so a cell reading only written kinds waits for nothing."""
    import gpu_session
    from reproduction_plan import Left

    reads = {"default": ("profile", "prediction"), "no_pf": ("prediction",), "no_pd": ("profile",), "no_pf_pd": ()}
    monkeypatch.setattr(gpu_session, "texts_read", lambda dataset, variant: reads[variant])
    left = Left(texts=["goodreads-once"], text_kinds={"goodreads-once": "profile,prediction,item_profile"},
                glta={"goodreads-once": list(reads)},
                seconds={("goodreads-once", name): 1000.0 * (i + 1) for i, name in enumerate(reads)})
    rlmrec_texts = ["goodreads-once:profile,item_profile"]
    jobs = {job.name: job for job in queue.queue_jobs(left, tmp_path, texts_for=rlmrec_texts)}
    assert set(jobs) == {"texts-goodreads-once", "glta-goodreads-once-no_pd", "glta-goodreads-once-no_pf_pd"}
    command = jobs["texts-goodreads-once"].command
    assert command[command.index("--kinds") + 1] == "profile,item_profile"
    assert "texts-goodreads-once" in jobs["glta-goodreads-once-no_pd"].after
    assert "texts-goodreads-once" not in jobs["glta-goodreads-once-no_pf_pd"].after
    every = {job.name for job in queue.queue_jobs(left, tmp_path, texts_for=["goodreads-once"])}
    assert every == {"texts-goodreads-once", *(f"glta-goodreads-once-{name}" for name in reads)}
    assert {job.name for job in queue.queue_jobs(left, tmp_path, texts_for=["goodreads-once:prediction"])} == {
        "texts-goodreads-once", "glta-goodreads-once-no_pf", "glta-goodreads-once-no_pf_pd"}
    left.text_kinds = {"goodreads-once": "prediction"}  # the profiles are all written already
    jobs = {job.name: job for job in queue.queue_jobs(left, tmp_path, texts_for=["goodreads-once:profile"])}
    assert set(jobs) == {"glta-goodreads-once-no_pd", "glta-goodreads-once-no_pf_pd"}  # nothing to write
    assert "texts-goodreads-once" not in jobs["glta-goodreads-once-no_pd"].after


def test_rlmrec_waits_only_for_the_texts_it_reads(planner, monkeypatch, capsys):
    """RLMRec reads the user and item profiles: with those written and only GLTA's predictions missing, its cells
    are planned (goodreads-once's RLMRec-Con grid, made from no clean commit, is trained again); with a profile
    missing they wait, and the texts job's kinds are only those with something missing."""
    monkeypatch.setattr(planner, "plan_glta", lambda dataset, left: None)
    for missing, planned in (({"profile": 0, "prediction": 9, "item_profile": 0}, True),
                             ({"profile": 1, "prediction": 9, "item_profile": 0}, False)):
        monkeypatch.setattr(planner, "needed_texts", lambda dataset: dict(missing))
        left = planner.plan(["goodreads-once"])
        assert ("rlmrec_con" in left.grids.get("goodreads-once", [])) == planned
        assert left.text_kinds["goodreads-once"] == ",".join(kind for kind, n in missing.items() if n)
        assert ("goodreads-once" in left.rlmrec_text_seconds) == (not planned)  # where it waits, the plan
        capsys.readouterr()
        planner.print_commands(left)  # names the flag that writes its kinds alone
        said = "--texts-for goodreads-once:profile,item_profile writes only the texts RLMRec reads"
        assert (said in capsys.readouterr().out) == (not planned)


def test_profiles_alone_are_timed_at_the_benchmarks_rate_for_one_kind(planner, costs, monkeypatch, tmp_path, capsys):
    """Written without predictions, a profile does not share its prompt's reading: the plan times RLMRec's texts
    at the benchmarks' ratio of the two rates (median over those in this CPU's precision), not at the pair's."""
    bench = tmp_path / "benchmarks" / "results"
    bench.mkdir(parents=True)
    for name, alone, both, dtype in (("a", 1.5, 2.0, "torch.bfloat16"), ("b", 1.0, 2.0, "torch.bfloat16"),
                                     ("c", 0.1, 2.0, "torch.float32")):
        (bench / f"generation_{name}.json").write_text(json.dumps({
            "dtype": dtype, "project_profile_only": {"responses_per_s": alone},
            "project_profile_and_prediction_shared_prefix": {"responses_per_s": both}}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(costs, "cpu_dtype", lambda: "bfloat16")
    assert costs.alone_ratio() == pytest.approx(0.625)  # the median of 0.75 and 0.5; fp32's left out
    monkeypatch.setattr(planner, "plan_glta", lambda dataset, left: None)
    monkeypatch.setattr(planner, "plan_baselines", lambda dataset, left, texts_written: None)
    monkeypatch.setattr(costs, "text_rate", lambda dataset=None: costs.TextRate(2.0, ""))
    monkeypatch.setattr(costs, "local_rate",
                        lambda kinds, dataset=None: (4.0, 1) if kinds == ("item_profile",) else None)
    monkeypatch.setattr(planner, "needed_texts", lambda dataset: {"profile": 100, "prediction": 100,
                                                                  "item_profile": 40})
    left = planner.plan(["goodreads-once"])
    assert left.rlmrec_text_seconds["goodreads-once"] == pytest.approx(100 / (2.0 * 0.625) + 40 / 4.0)
    assert left.text_seconds["goodreads-once"] == pytest.approx(200 / 2.0 + 40 / 4.0)
    monkeypatch.setattr(costs, "local_rate", lambda kinds, dataset=None: None)  # no item rate: the pair rate
    left = planner.plan(["goodreads-once"])
    assert left.rlmrec_text_seconds["goodreads-once"] == pytest.approx(100 / (2.0 * 0.625) + 40 / 2.0)
    capsys.readouterr()


def test_the_plans_total_counts_what_runs_under_way_here_have_left(planner, tmp_path, monkeypatch):
    """The ML-1M w/o UA run, 9 epochs in (~1.7 h), and the default's retrain, 11 of 12 epochs in, each counted whole
    in the plan's hours; the default's seeds' folders (``glta-2026``) were not even found."""
    from glta.checkpoint import CHECKPOINT_NAME, save_checkpoint

    monkeypatch.chdir(tmp_path)

    def under_way(folder: str, epochs: int, pace: float) -> None:
        (tmp_path / folder).mkdir(parents=True)
        save_checkpoint(tmp_path / folder / CHECKPOINT_NAME,
                        {"epoch": epochs - 1, "best_score": 0.08, "best_epoch": 2, "in_epoch": None,
                         "history": [{"epoch": epoch, "seconds": (epoch + 1) * pace} for epoch in range(epochs)]})

    left = planner.Left(glta={"ml-1m": ["no_ua", "no_pf"]}, glta_seeds={"ml-1m": ["default"]},
                        seconds={("ml-1m", "no_ua"): 10000.0, ("ml-1m", "no_pf"): 10000.0,
                                 ("ml-1m", "default"): 10000.0})
    # nothing under way: every run whole, the two cells with no run with their two extra seeds each
    assert planner.seconds_left(left).total == 8 * 10000.0
    under_way("runs/ml-1m/glta_variants/no_ua", 4, 1000.0)  # 4,000 s trained of a like run's 10,000
    under_way("runs/ml-1m/seeds/glta-2026", 12, 1000.0)  # past the like run's time: one epoch still counts
    assert planner.spent_here("ml-1m", "default", seeds=True) == [(12000.0, 1000.0)]
    assert planner.spent_here("ml-1m", "default", seeds=False) == []  # the seed's run is not the cell's own
    remaining = planner.seconds_left(left)
    assert remaining.total == 6000.0 + 10000.0 + 1000.0 + 10000.0 + 4 * 10000.0
    assert remaining.spent == 4000.0 + 9000.0
    assert "runs under way here count what they have left (~3.6 h of them trained already)" in planner.left_line(left)
    assert "seed 2026: 12 epochs done" in planner.under_way("ml-1m", "default")


def test_a_decoding_mode_whose_model_is_here_goes_ahead_of_started_ablations(planner, queue, tmp_path):
    """December 5: ML-1M's default model had just been trained again for AR and FL, and the queue gave both freed
    cores to w/o UA (started earlier) and w/o IA (longest first), ~7 h each, leaving the modes behind them: a fresh
    machine in the next session would have had to train that model a third time to read them."""
    left = planner.Left(glta={"ml-1m": ["no_ua", "no_ia", "autoregressive", "first_logit"]},
                        seconds={("ml-1m", "no_ua"): 24000.0, ("ml-1m", "no_ia"): 15000.0,
                                 ("ml-1m", "autoregressive"): 4400.0, ("ml-1m", "first_logit"): 1200.0})
    (tmp_path / "glta-ml-1m-no_ua.log").write_text("started by an earlier queue\n")
    names = [job.name for job in queue.queue_jobs(left, tmp_path, workers=2)]
    assert names == ["glta-ml-1m-autoregressive", "glta-ml-1m-first_logit", "glta-ml-1m-no_ua", "glta-ml-1m-no_ia"]
    names = [job.name for job in queue.queue_jobs(left, tmp_path, workers=2, up_front=["glta-ml-1m-no_ia"])]
    assert names[0] == "glta-ml-1m-no_ia"  # --first still wins


def test_the_first_default_seed_reads_a_mode_with_no_run_and_goes_where_the_mode_would(planner, queue, tmp_path,
                                                                                       monkeypatch):
    """December 5, a fresh machine: ML-1M's AR had no run and its main model was gone. The default's seed 2026
    (hours it needs anyway, for Table 2's seeds) reads AR out of its own model, so it goes ahead of the ablations as
    the mode would; its seed 2027 keeps its place among the seeds."""
    monkeypatch.chdir(tmp_path)  # no results here: AR has no run
    left = planner.Left(glta={"ml-1m": ["no_pf", "no_ia"]}, glta_seeds={"ml-1m": ["default"]},
                        mode_seeds={"ml-1m": ["first_logit", "autoregressive"]},
                        seconds={("ml-1m", "no_pf"): 14000.0, ("ml-1m", "no_ia"): 8000.0,
                                 ("ml-1m", "default"): 17000.0})
    names = [job.name for job in queue.queue_jobs(left, tmp_path / "logs", workers=2)]
    assert names == ["seed-ml-1m-default-2026", "glta-ml-1m-no_pf", "glta-ml-1m-no_ia", "seed-ml-1m-default-2027"]
    left.mode_seeds = {}  # every mode has its seeds: the default's seeds wait after the cells with no run
    names = [job.name for job in queue.queue_jobs(left, tmp_path / "logs", workers=2)]
    assert names == ["glta-ml-1m-no_pf", "glta-ml-1m-no_ia", "seed-ml-1m-default-2026", "seed-ml-1m-default-2027"]


def test_a_glta_jobs_memory_leaves_out_the_prefix_store_it_wrote_through_a_memory_map(costs, tmp_path, monkeypatch):
    """December 5: ML-1M's GLTA recorded a 17.1 GiB resident peak, ~12.5 GiB of it the prefix store's file pages
    (written through a memory map: page cache, reclaimable), so the queue's memory guard (85% of 24 GiB) ran its
    seed 2026 alone and left the second core idle for hours; two such jobs ran side by side the session before."""
    import json

    monkeypatch.setenv("GLTA_CACHE_DIR", str(tmp_path))
    gib = 2**30
    record = {"provenance": {"peak_memory": {"resident_gib": 17.0},
                             "config": {"model": {"llm": {"name": "smollm2-135m"}}}},
              "training": {"prefix_tokens": 100_000}}
    monkeypatch.setattr(costs, "gguf_token_bytes", lambda llm: None)
    assert costs.own_peak(record) == 17.0 * gib  # no store of that LLM here, no header read: the whole peak
    monkeypatch.undo()
    monkeypatch.setenv("GLTA_CACHE_DIR", str(tmp_path))
    # a fresh machine, before its first GLTA run: the bundled GGUF's header tells (30 layers, 3 key/value heads of
    # 64), in the precision the LLM runs in here
    assert costs.token_bytes("smollm2-135m") == 30 * 2 * 3 * 64 * (2 if costs.cpu_dtype() == "bfloat16" else 4)
    meta = tmp_path / "prefix-kv" / "abc" / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"shape": [600, 30, 2, 3, 11, 64], "dtype": "torch.bfloat16",
                                "llm": "smollm2-135m:gguf-sha256:b179c9523d0e6a0f"}))
    assert costs.token_bytes("smollm2-135m") == 30 * 2 * 3 * 64 * 2 and costs.token_bytes("gemma3-270m") is None
    assert costs.own_peak(record) == pytest.approx(17.0 * gib - 100_000 * 23_040)
    record["training"]["prefix_store_gib"] = 12.5  # recorded by the run itself: that wins
    assert costs.own_peak(record) == pytest.approx(4.5 * gib)
    record["training"]["prefix_store_unmapped"] = True  # its pages left the resident peak as they were written
    assert costs.own_peak(record) == 17.0 * gib
    assert costs.own_peak({"training": {}}) is None


def test_times_from_a_cpu_without_amx_count_at_the_ratio_an_ia_stage_trained_on_both_measured(planner, costs,
                                                                                              tmp_path, monkeypatch):
    """December 5, a Xeon with AMX: ML-1M's IA epochs took ~4 min against ~7 on the EPYC (both with hardware bf16)
    whose runs timed every GLTA cell, and the plan counted those times as this CPU's. Once one IA stage has trained
    on both, the plan counts them at the measured ratio; a run on a CPU without hardware bf16 measures nothing here."""
    import json

    from glta.config import build_config

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("glta.device.cpu_flags", lambda: frozenset({"avx512_bf16", "amx_bf16"}))

    def write(name, machine, ia_seconds, *overrides):
        config = build_config("glta", "amazon-scientific", overrides=list(overrides)).to_dict()
        path = tmp_path / "results" / "amazon-scientific" / (
            "glta.json" if name == "default" else f"glta_variants/{name}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"provenance": {"config": config, "machine": {"gpu": None, **machine}},
                                    "training": {"train_seconds": 10000.0, "ia_seconds": ia_seconds},
                                    "metrics": {"valid": {"N@10": 0.1}, "test": {"N@10": 0.1}}}))

    write("default", {"bf16": True, "amx": False, "cpu": "AMD EPYC"}, 4000.0)
    write("no_pd", {"bf16": False, "amx": False}, 9000.0, "model.use_prediction=false")  # no bf16: not alike
    assert costs.cpu_ratio(feature="amx") is None
    assert costs.cpu_ratio() == (4000.0 / 9000.0, ["amazon-scientific"])  # the bf16 one: the same IA stage
    write("no_pf_pd", {"bf16": True, "amx": True}, 2200.0, "model.use_profile=false", "model.use_prediction=false")
    assert costs.cpu_ratio(feature="amx") == (0.55, ["amazon-scientific"])
    (tmp_path / "results" / "amazon-scientific" / "glta_variants" / "no_pd.json").unlink()
    left = planner.Left(amx_ratio=costs.cpu_ratio(feature="amx"))
    planner.plan_glta("amazon-scientific", left)
    assert ("amazon-scientific", "no_ia") in left.amx_timed
    assert left.seconds_here(("amazon-scientific", "no_ia")) == pytest.approx(0.55 * left.seconds[
        "amazon-scientific", "no_ia"])
    assert "count at 0.55 times that time: this one's over it for an IA stage trained on both (amazon-scientific)" \
        in planner.left_line(left)


def test_ua_epochs_from_a_cpu_without_amx_count_at_their_own_measured_ratio(planner, costs, tmp_path, monkeypatch):
    """December 6, the Xeon with AMX: amazon-scientific's GLTA+ UA epochs took ~0.43 of the EPYC's time where its IA
    took 0.34. Once seeds of one config have trained on both, a like run's fit loop counts at the UA ratio and its
    IA and prefix stages at the IA one; a run of another config (here: other threads) measures nothing."""
    import json

    from glta.config import build_config

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("glta.device.cpu_flags", lambda: frozenset({"avx512_bf16", "amx_bf16"}))
    folder = tmp_path / "results" / "amazon-scientific"

    def write(path, amx, fit, epochs, seed, *overrides, method="glta_plus"):
        config = build_config(method, "amazon-scientific", overrides=[f"train.seed={seed}", *overrides])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "provenance": {"config": config.to_dict(), "machine": {"gpu": None, "bf16": True, "amx": amx}},
            "training": {"train_seconds": fit, "epochs_run": epochs, "ia_seconds": 4000.0, "prefix_seconds": 600.0},
            "metrics": {"valid": {"N@10": 0.1}, "test": {"N@10": 0.1}}}))

    write(folder / "glta_plus.json", False, 10000.0, 5, 2025)
    write(folder / "seeds" / "glta_plus-2026.json", True, 2400.0, 3, 2026, "train.threads=2")
    assert costs.cpu_ratio(feature="amx", stage="ua") is None  # not one config but for the seed
    write(folder / "seeds" / "glta_plus-2026.json", True, 2400.0, 3, 2026)
    assert costs.cpu_ratio(feature="amx", stage="ua") == (pytest.approx(800.0 / 2000.0), ["amazon-scientific"])
    assert costs.cpu_ratio(stage="ua") is None  # both have hardware bf16: nothing measured for that

    write(folder / "glta.json", False, 9000.0, 6, 2025, method="glta")  # the default, timed on the EPYC alone
    left = planner.Left(amx_ratio=(0.34, ["amazon-scientific"]),
                        amx_ua_ratio=costs.cpu_ratio(feature="amx", stage="ua"))
    planner.plan_glta("amazon-scientific", left)
    cell = ("amazon-scientific", "no_pd")  # to do: a time scaled from the default's
    assert cell in left.amx_timed and left.fit_seconds[cell] == 9000.0
    assert left.seconds_here(cell) == pytest.approx((left.seconds[cell] - 9000.0) * 0.34 + 9000.0 * 0.4)
    assert "at the measured 0.34 (IA and other LLM stages), 0.40 (UA epochs)" in planner.here_at_ratio(left, *cell)
    assert ("amazon-scientific", "glta_plus") not in left.amx_timed  # its seed 2026 timed it here
    left.amx_ua_ratio = None  # unmeasured: the whole run at the IA stages' ratio, as before
    assert left.seconds_here(cell) == pytest.approx(left.seconds[cell] * 0.34)
    assert planner.here_at_ratio(left, *cell).endswith("at the measured 0.34")


def test_the_texts_job_writes_the_kinds_its_data_sets_cells_read(queue, left, tmp_path):
    def kinds(left):
        command = {job.name: job for job in queue.queue_jobs(left, tmp_path)}["texts-ml-1m"].command
        return command[command.index("--kinds") + 1]

    assert kinds(left) == "profile,prediction,item_profile"  # a plan that names none: every kind
    left.text_kinds = {"ml-1m": "profile,prediction"}
    assert kinds(left) == "profile,prediction"


def test_item_profiles_are_written_only_while_an_rlmrec_cell_is_left(planner, monkeypatch, tmp_path):
    """Only RLMRec reads the item profiles: a data set writes them while an RLMRec cell has a run to make there (none
    yet, a seed short, a grid from no clean commit, or a main run to train again for its per-user values; December 6:
    ML-1M's RLMRec main runs keep none, and their retraining would have stopped for want of item profiles)."""
    from glta.results import EXTRA_SEEDS

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("glta.results.commits_status", lambda commits: "clean")  # a commit of this history

    def made(dataset, method, per_user=True, seeds=EXTRA_SEEDS):
        folder = tmp_path / "results" / dataset
        (folder / "seeds").mkdir(parents=True, exist_ok=True)
        record = {"provenance": {"git_commit": "6db4cb6"}, "per_user_test": {"values": [0.5] if per_user else []}}
        (folder / f"{method}.json").write_text(json.dumps(record))
        for seed in seeds:
            (folder / "seeds" / f"{method}-{seed}.json").write_text(json.dumps(record))

    for method in ("rlmrec_con", "rlmrec_gen"):
        made("ml-1m", method)
    assert not planner.rlmrec_left("ml-1m", "rlmrec_con") and not planner.rlmrec_left("ml-1m", "rlmrec_gen")
    monkeypatch.setattr(planner, "missing_texts", lambda dataset: {"profile": 3, "prediction": 3, "item_profile": 5})
    assert planner.needed_texts("ml-1m") == {"profile": 3, "prediction": 3}
    made("ml-1m", "rlmrec_gen", per_user=False)  # its chosen point is trained again: it reads the item profiles
    assert planner.rlmrec_left("ml-1m", "rlmrec_gen")
    assert planner.needed_texts("ml-1m") == {"profile": 3, "prediction": 3, "item_profile": 5}
    made("goodreads-once", "rlmrec_con", seeds=EXTRA_SEEDS[:1])  # a seed short
    assert planner.rlmrec_left("goodreads-once", "rlmrec_con")
    assert planner.rlmrec_left("amazon-scientific", "rlmrec_con")  # no run
    monkeypatch.setattr("glta.results.commits_status", lambda commits: "dirty")  # a grid from no clean commit
    made("goodreads-once", "rlmrec_con")
    assert planner.rlmrec_left("goodreads-once", "rlmrec_con")


def test_the_plan_names_a_finished_run_whose_results_file_is_missing(planner, tmp_path, monkeypatch):
    """A queue's results reset before they were collected: the seed's run folder holds its finished model, its
    results file is gone. The plan's line names it and the way back (the queue would stop on it)."""
    monkeypatch.chdir(tmp_path)
    for folder in ("runs/d/seeds/no_pf-2027", "runs/d/lightgcn/grid/lr=0.02", "runs/d/seeds/lightgcn-2026"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "model.safetensors").write_bytes(b"weights")
        (tmp_path / folder / "run.json").write_text("{}")
    line = planner.under_way("d", "no_pf")
    assert line == ("; finished here without its results file: runs/d/seeds/no_pf-2027 "
                    "(results/d/glta_variants/seeds/no_pf-2027.json missing): bring the file back "
                    "(experiments/collect_queue.py from a queue's worktree) or write one with `glta evaluate "
                    "--run-dir RUN --out FILE`")
    assert "runs/d/lightgcn/grid/lr=0.02 (results/d/grid/lightgcn/lr=0.02.json missing)" in \
        planner.under_way("d", "lightgcn")
    for out in ("results/d/seeds/lightgcn-2026.json", "results/d/grid/lightgcn/lr=0.02.json"):
        (tmp_path / out).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / out).write_text("{}")
    assert planner.under_way("d", "lightgcn") == ""  # collected: nothing to say
