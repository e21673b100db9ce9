"""Serve the Ultralytics package's predictions over stdin/stdout, one image at a time.

Standalone on purpose: Ultralytics needs a PyTorch build that conflicts with vidpipe's own
environment, so ``vidpipe bench peers`` runs this file with another Python interpreter and
alternates images between it and vidpipe, so both sides see the same machine conditions.

Protocol (JSON, one object per line): the first line is {"model", "conf", "iou", "imgsz"}; the
answer is {"version"}. Then each line {"image": path} gets {"ms", "xyxy", "conf", "cls"}, where
``ms`` is the wall time of ``predict`` alone. End of input ends the process.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    # Ultralytics prints notices on stdout; keep stdout for the protocol alone.
    answer, sys.stdout = sys.stdout, sys.stderr
    config = json.loads(sys.stdin.readline())
    import cv2
    import ultralytics
    from ultralytics import YOLO

    model = YOLO(config["model"], task="detect")
    options = {"conf": config["conf"], "iou": config["iou"], "imgsz": config["imgsz"], "verbose": False}
    answer.write(json.dumps({"version": ultralytics.__version__}) + "\n")
    answer.flush()
    for line in sys.stdin:
        image = cv2.imread(json.loads(line)["image"])  # Ultralytics takes BGR arrays
        start = time.perf_counter()
        boxes = model.predict(image, **options)[0].boxes
        ms = 1000 * (time.perf_counter() - start)
        reply = {
            "ms": ms,
            "xyxy": boxes.xyxy.cpu().numpy().tolist(),
            "conf": boxes.conf.cpu().numpy().tolist(),
            "cls": boxes.cls.cpu().numpy().astype(int).tolist(),
        }
        answer.write(json.dumps(reply) + "\n")
        answer.flush()


if __name__ == "__main__":
    main()
