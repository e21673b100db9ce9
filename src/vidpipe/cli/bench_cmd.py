"""``vidpipe bench``: measurements on real data. Each prints a JSON object last."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from vidpipe.cli.common import err_console, print_json, progress_bar, settings_with
from vidpipe.errors import VidpipeError
from vidpipe.inference.face_analysis import FaceAnalyzer
from vidpipe.inference.object_detector import create_object_detector

app = typer.Typer(help="Benchmarks on real data; each prints a JSON object last.", no_args_is_help=True)

ModelDir = typer.Option(None, "--model-dir", help="Model folder (default: VIDPIPE_MODEL_DIR)")
JsonOnly = typer.Option(False, "--json", help="Print only the JSON object")


def _table(values: dict[str, Any], title: str) -> None:
    """A measure/value table on stderr, so stdout stays one JSON object."""
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value")
    for key, value in values.items():
        table.add_row(key, ", ".join(map(str, value)) if isinstance(value, list) else str(value))
    err_console.print(table)


def _report(result: dict[str, Any], as_json: bool, title: str) -> None:
    if not as_json:
        _table(result, title)
    print_json(result)


def _existing(path: Path, what: str) -> Path:
    if not path.exists():
        raise VidpipeError(f"{what} {str(path)!r} does not exist")
    return path


def default_data_dir() -> Path:
    """VIDPIPE_BENCH_DATA, else ../shared/data beside the working folder (the layout on the team's machines)."""
    return Path(os.environ.get("VIDPIPE_BENCH_DATA", "../shared/data")).expanduser()


@app.command("faces")
def bench_faces(
    images: Path = typer.Option(..., "--images", help="Folder the CSV's file column is relative to"),
    labels: Path = typer.Option(..., "--labels", help="CSV with file,identity"),
    detector: str | None = typer.Option(None, "--detector", help="Face detector model"),
    embedder: str | None = typer.Option(None, "--embedder", help="Face identity model"),
    cross_validate: bool = typer.Option(
        False, "--cross-validate", help="Also choose the threshold leaving one source folder out, scored on it"
    ),
    group_photos: Path | None = typer.Option(
        None, "--group-photos", help="CSV with file,identities_present: photos of several labelled people"
    ),
    model_dir: Path | None = ModelDir,
    as_json: bool = JsonOnly,
) -> None:
    """Faces found and identity-grouping accuracy (BCubed, pairwise F1) on labelled photos; with
    --cross-validate, also the figures on people the threshold never saw (leave one source out);
    with --group-photos, whether each named person's face in a group photo joins that person."""
    from vidpipe.bench.faces import read_labels, run_face_bench

    _existing(images, "image folder")
    total = len(read_labels(_existing(labels, "labels file")))
    if group_photos is not None:
        _existing(group_photos, "group photos file")
    analyzer = FaceAnalyzer(detector, embedder, settings=settings_with(model_dir))
    with progress_bar("Faces", total, quiet=as_json) as tick:
        result = run_face_bench(
            images,
            labels,
            analyzer,
            progress=tick,
            cross_validate=cross_validate,
            group_photos_csv=group_photos,
        )
    _report(result, as_json, "Face bench")


@app.command("detect")
def bench_detect(
    images: Path = typer.Option(..., "--images", help="Folder the COCO file_name entries are relative to"),
    coco: Path = typer.Option(..., "--coco", help="COCO ground-truth JSON"),
    model: str | None = typer.Option(None, "--model", help="Object detector: a model name or an .onnx file"),
    model_dir: Path | None = ModelDir,
    as_json: bool = JsonOnly,
) -> None:
    """mAP@0.5 and mAP@0.5:0.95 against COCO ground truth, and milliseconds per image."""
    from vidpipe.bench.detect import load_ground_truth, run_detect_bench

    _existing(images, "image folder")
    total = len(load_ground_truth(_existing(coco, "COCO file"))["images"])
    detector = create_object_detector(model, settings=settings_with(model_dir))
    with progress_bar("Detecting", total, quiet=as_json) as tick:
        result = run_detect_bench(images, coco, detector, progress=tick)
    _report(result, as_json, "Detection bench")


@app.command("manifest")
def bench_manifest(
    images: Path = typer.Option(..., "--images", help="Folder of photos"),
    asset_type: str = typer.Option("OBJECT", "--type", help="Type given to every photo"),
    ocr: bool = typer.Option(True, "--ocr/--no-ocr", help="Read text with OCR where rapidocr is installed"),
    rounds: int = typer.Option(7, "--rounds", min=1, help="Job runs, each alternated with a bare engine run"),
    model_dir: Path | None = ModelDir,
    as_json: bool = JsonOnly,
) -> None:
    """A full manifesting run as a job (offline describer, default models): seconds in total and per
    step, and what the job machinery costs against the bare engine on the same photos."""
    from vidpipe.bench.manifest import run_manifest_bench
    from vidpipe.domain.enums import AssetType

    try:
        kind = AssetType(asset_type.upper())
    except ValueError:
        raise VidpipeError(f"unknown asset type {asset_type!r}") from None
    # No spinner while timing: its refresh thread competes with the run for the interpreter.
    err_console.print(f"processing {images} {rounds} time(s) as a job and {rounds} time(s) as the bare engine…")
    result = run_manifest_bench(
        _existing(images, "image folder"), settings_with(model_dir), kind, ocr=ocr, rounds=rounds
    )
    _report(result, as_json, "Manifest bench")


@app.command("manifest-scale")
def bench_manifest_scale(
    photos: str = typer.Option("100,300,1000", "--photos", help="Photo counts, one run each: 100,300,1000"),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Test data (default: VIDPIPE_BENCH_DATA or ../shared/data)"
    ),
    ocr: bool = typer.Option(False, "--ocr/--no-ocr", help="Read text with OCR where rapidocr is installed"),
    split_workers: int = typer.Option(
        0, "--split-workers", min=0, max=16, help="Also run each N split over this many `vidpipe worker` processes"
    ),
    model_dir: Path | None = ModelDir,
    as_json: bool = JsonOnly,
) -> None:
    """Manifest runs of N distinct photos (made from the test data), each in a child process with the
    offline describer: seconds, seconds per photo, peak resident memory and assets for each N; with
    --split-workers, the same runs split over worker processes (PostgreSQL and Redis on this machine)."""
    from vidpipe.bench.manifest_scale import run_scale_bench

    try:
        counts = [int(part) for part in photos.split(",") if part.strip()]
    except ValueError:
        raise VidpipeError(f"bad --photos {photos!r}: expected counts like 100,300,1000") from None
    result = run_scale_bench(
        _existing(data_dir or default_data_dir(), "data folder"),
        settings_with(model_dir),
        counts,
        ocr=ocr,
        split_workers=split_workers,
        progress=None if as_json else err_console.print,
    )
    if not as_json:
        for run in result["runs"]:
            _table({k: v for k, v in run.items() if not isinstance(v, dict)}, f"Manifest scale: {run['photos']} photos")
        for run in result.get("split_runs", []):
            _table({k: v for k, v in run.items() if not isinstance(v, list)}, f"Split: {run['photos']} photos")
    print_json(result)


@app.command("recovery")
def bench_recovery(
    images: Path = typer.Option(..., "--images", help="Folder of photos"),
    lease: float = typer.Option(30.0, "--lease", min=0.5, help="Job lease in seconds (the default is 30)"),
    poll: float = typer.Option(0.5, "--poll", min=0.05, help="Seconds between the retries of the next command"),
    model_dir: Path | None = ModelDir,
    as_json: bool = JsonOnly,
) -> None:
    """Time from a SIGKILL of `vidpipe manifest process` to a recovered, READY manifest."""
    from vidpipe.bench.recovery import run_recovery_bench

    with err_console.status(f"Killing a run and recovering it (lease {lease:g} s)"):
        result = run_recovery_bench(
            _existing(images, "image folder"), settings_with(model_dir), lease_seconds=lease, poll_seconds=poll
        )
    _report(result, as_json, "Recovery bench")


@app.command("pull")
def bench_pull(
    models: Path = typer.Option(
        Path("../shared/models"), "--models", help="A model folder with the published files and sources/*.tflite"
    ),
    as_json: bool = JsonOnly,
) -> None:
    """`models pull --defaults` from a loopback mirror into an empty folder (downloads and
    conversions), then again with everything present: seconds and bytes."""
    from vidpipe.bench.pull import run_pull_bench

    _report(run_pull_bench(_existing(models, "model folder")), as_json, "Pull bench")


@app.command("serve")
def bench_serve(
    images: Path = typer.Option(..., "--images", help="Folder of photos (the issue's case: 10)"),
    pollers: int = typer.Option(50, "--pollers", min=0, help="Clients polling the progress endpoint"),
    streams: int = typer.Option(10, "--streams", min=0, help="Clients on the event stream"),
    poll: float = typer.Option(0.5, "--poll", min=0.05, help="Seconds between one client's polls"),
    rounds: int = typer.Option(5, "--rounds", min=1, help="Quiet and watched runs, alternating"),
    model_dir: Path | None = ModelDir,
    as_json: bool = JsonOnly,
) -> None:
    """A real `vidpipe serve` processing a manifest while clients watch: progress latency (p50, p99)
    and the run's time against the same run with nobody watching."""
    from vidpipe.bench.serve_load import run_serve_bench

    err_console.print("starting a server and running the manifest with and without clients…")
    result = run_serve_bench(
        _existing(images, "image folder"),
        settings_with(model_dir),
        pollers=pollers,
        streams=streams,
        poll_seconds=poll,
        rounds=rounds,
    )
    _report(result, as_json, "Serve bench")


@app.command("describe")
def bench_describe(
    provider: str = typer.Option("fake-latency", "--provider", help="fake-latency: a local server with fixed latency"),
    assets: int = typer.Option(20, "--assets", min=1, help="Assets to describe"),
    latency: float = typer.Option(0.5, "--latency", min=0.0, help="Seconds the server takes per request"),
    concurrency: int = typer.Option(5, "--concurrency", min=1, help="Requests in flight at once"),
    dialect: str = typer.Option("openai", "--dialect", help="Wire protocol the server speaks: openai or gemini"),
    as_json: bool = JsonOnly,
) -> None:
    """Describe-step wall time against a local server speaking the OpenAI or Gemini protocol, vs serial."""
    from vidpipe.bench.describe import run_describe_bench

    if dialect not in ("openai", "gemini"):
        raise VidpipeError(f"unknown dialect {dialect!r}: expected openai or gemini")
    with err_console.status("Describing"):
        result = run_describe_bench(
            provider,
            assets=assets,
            latency_seconds=latency,
            concurrency=concurrency,
            dialect="gemini" if dialect == "gemini" else "openai",
        )
    _report(result, as_json, "Describe bench")


@app.command("peers")
def bench_peers(
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Test data (default: VIDPIPE_BENCH_DATA or ../shared/data)"
    ),
    model: str = typer.Option("yolov8n_int8", "--model", help="Ultralytics-format detector both sides run"),
    ultralytics_python: str | None = typer.Option(
        None,
        "--ultralytics-python",
        envvar="VIDPIPE_ULTRALYTICS_PYTHON",
        help="Python interpreter that has the ultralytics package (default: this one)",
    ),
    skip_detection: bool = typer.Option(False, "--skip-detection"),
    skip_faces: bool = typer.Option(False, "--skip-faces"),
    model_dir: Path | None = ModelDir,
    as_json: bool = JsonOnly,
) -> None:
    """Ours against Ultralytics (detection) and face_recognition (faces), same images and weights, one run."""
    from vidpipe.bench.peers import detection_peer, face_peer

    data = _existing(data_dir or default_data_dir(), "data folder")
    settings = settings_with(model_dir)
    result: dict[str, Any] = {}
    if not skip_detection:
        voc = data / "detection" / "voc_100"
        detector = create_object_detector(model, settings=settings)
        with err_console.status("Detection: ours and ultralytics"):
            result["detection"] = detection_peer(
                voc, voc / "instances_coco80.json", detector, ultralytics_python=ultralytics_python
            )
    if not skip_faces:
        faces = data / "faces"
        with err_console.status("Faces: ours and face_recognition"):
            result["faces"] = face_peer(faces, faces / "labels.csv", FaceAnalyzer(settings=settings))
    if not as_json:
        for section, values in result.items():
            _table(values, f"Peers: {section}")
    print_json(result)


@app.command("sampler")
def bench_sampler(
    video: Path = typer.Option(..., "--video", help="A clip with known hard cuts"),
    cuts: str | None = typer.Option(
        None, "--cuts", help="True hard cuts as frame numbers from 0 (the first frame of each new shot): 30,180"
    ),
    cuts_seconds: str | None = typer.Option(None, "--cuts-seconds", help="True hard cuts in seconds: 1.001,6.006"),
    max_frames: int = typer.Option(8, "--max-frames", min=1, help="Frames the sampler may choose"),
    as_json: bool = JsonOnly,
) -> None:
    """Our clip sampler against PySceneDetect's ContentDetector on one clip: hard-cut precision, recall and
    F1 (±0.1 s), true shots covered by our sampled frames, and the speed of both."""
    from vidpipe.bench.sampler import parse_cut_list, run_sampler_bench

    if (cuts is None) == (cuts_seconds is None):
        raise VidpipeError("give exactly one of --cuts (frame numbers) or --cuts-seconds (seconds)")
    _existing(video, "video")
    frames = None if cuts is None else [int(f) for f in parse_cut_list(cuts, "--cuts", as_frames=True)]
    seconds = None if cuts_seconds is None else parse_cut_list(cuts_seconds, "--cuts-seconds", as_frames=False)
    with err_console.status("Sampling: ours and PySceneDetect"):
        result = run_sampler_bench(video, cut_frames=frames, cut_seconds=seconds, max_frames=max_frames)
    _report(result, as_json, "Sampler bench")


@app.command("analyze")
def bench_analyze(
    video: Path = typer.Option(..., "--video", help="A clip; its first --seconds are re-encoded at --height lines"),
    photos: Path = typer.Option(..., "--photos", help="Folder of photos for the registry (the first 10)"),
    seconds: float = typer.Option(10.0, "--seconds", min=0.5, help="Length of the excerpt analysed"),
    height: int = typer.Option(720, "--height", min=64, help="Lines of the excerpt (720p by default)"),
    rounds: int = typer.Option(3, "--rounds", min=1, help="Analyses of the same clip (the median is reported)"),
    model_dir: Path | None = ModelDir,
    as_json: bool = JsonOnly,
) -> None:
    """Clip analysis end to end against a 10-asset registry: seconds per clip, decoding speed, and
    where the time goes (sampling/decoding, models, writing)."""
    from vidpipe.bench.analyze import run_analyze_bench

    with err_console.status("Making the registry and analysing the clip"):
        result = run_analyze_bench(
            _existing(video, "video"),
            _existing(photos, "photo folder"),
            settings_with(model_dir),
            seconds=seconds,
            height=height,
            rounds=rounds,
        )
    _report(result, as_json, "Analyze bench")


@app.command("workers")
def bench_workers(
    photos: Path = typer.Option(..., "--photos", help="Folder of photos the manifests are made of"),
    video: Path = typer.Option(..., "--video", help="A clip; its first --clip-seconds are analysed at 720p"),
    manifests_count: int = typer.Option(8, "--manifests", min=1, help="Manifest runs in the batch"),
    per_manifest: int = typer.Option(4, "--photos-per-manifest", min=1, help="Photos in each manifest"),
    clips: int = typer.Option(8, "--clips", min=1, help="Clip analyses in the batch"),
    clip_seconds: float = typer.Option(4.0, "--clip-seconds", min=0.5, help="Length of the clip analysed"),
    modes: str = typer.Option(
        "embedded,dramatiq-1,dramatiq-2", "--modes", help="Which of embedded, dramatiq-1, dramatiq-2 to run"
    ),
    postgres: str = typer.Option(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        "--postgres",
        help="A PostgreSQL server where throw-away databases may be made (an admin URL)",
    ),
    redis_url: str = typer.Option("redis://127.0.0.1:6379/0", "--redis", help="Redis for the dramatiq backend"),
    model_dir: Path | None = ModelDir,
    as_json: bool = JsonOnly,
) -> None:
    """Job throughput side by side: the embedded runner against 1 and 2 `vidpipe worker` processes
    (one inference thread per job), manifests and clip analyses per minute, and the queueing
    overhead from a committed job to its start."""
    from vidpipe.bench.workers import run_workers_bench

    with err_console.status("Running the batches") as status:
        result = run_workers_bench(
            _existing(photos, "photo folder"),
            _existing(video, "video"),
            settings_with(model_dir),
            postgres_admin_url=postgres,
            redis_url=redis_url,
            manifests_count=manifests_count,
            photos_per_manifest=per_manifest,
            clips_count=clips,
            clip_seconds=clip_seconds,
            modes=tuple(m.strip() for m in modes.split(",") if m.strip()),
            progress=lambda mode: status.update(f"Running the batches: {mode}"),
        )
    _report(result, as_json, "Workers bench")


@app.command("registry")
def bench_registry(
    images: Path = typer.Option(..., "--images", help="Folder of photos (those with ground truth are used)"),
    coco: Path = typer.Option(..., "--coco", help="COCO ground-truth JSON for those photos"),
    asset_type: str | None = typer.Option(None, "--type", help="Type of every photo (default: guessed per photo)"),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N photos"),
    part: str | None = typer.Option(
        None, "--part", help="K/N: only every N-th photo by name, from the K-th (a fixed split, e.g. 2/2 held out)"
    ),
    model_dir: Path | None = ModelDir,
    as_json: bool = JsonOnly,
) -> None:
    """The registry the photos make, as one manifest, against their ground truth: asset precision
    (assets that are a true object of their class), duplicates (true objects split over several
    assets), people split or merged. Ground truth of faces only (class "face") judges characters
    by their faces."""
    from vidpipe.bench.registry import parse_part, run_registry_bench

    with err_console.status("Processing the photos as one manifest"):
        result = run_registry_bench(
            _existing(images, "image folder"),
            _existing(coco, "COCO file"),
            settings_with(model_dir),
            asset_type=asset_type,
            limit=limit,
            part=parse_part(part) if part else None,
        )
    _report(result, as_json, "Registry bench")


@app.command("describe-offline")
def bench_describe_offline(
    images: Path = typer.Option(..., "--images", help="Folder the COCO file_name entries are relative to"),
    coco: list[Path] = typer.Option(..., "--coco", help="COCO ground-truth JSON (repeat for several)"),
    ocr: bool = typer.Option(True, "--ocr/--no-ocr", help="Read text with OCR where rapidocr is installed"),
    max_crops: int | None = typer.Option(None, "--max-crops", min=1, help="Describe at most this many boxes"),
    model_dir: Path | None = ModelDir,
    as_json: bool = JsonOnly,
) -> None:
    """The offline describer on every usable ground-truth box: prompts that name the true class, prompts
    with filler (percentages, probabilities, doubled words, hedges), word counts per type, and time."""
    from vidpipe.bench.describe_offline import run_describe_offline_bench
    from vidpipe.describe.describers.offline import OfflineDescriber

    _existing(images, "image folder")
    for path in coco:
        _existing(path, "COCO file")
    describer = OfflineDescriber.from_settings(settings_with(model_dir), ocr=ocr)
    with progress_bar("Describing", 1, quiet=as_json) as tick:
        result = run_describe_offline_bench(images, coco, describer, max_crops=max_crops, progress=tick)
    _report(result, as_json, "Offline describe bench")
