"""Run the Ultralytics package on images and print its detections as JSON.

Standalone on purpose: Ultralytics needs a PyTorch build that conflicts with vidpipe's own
environment, so ``vidpipe bench peers`` can run this file with another Python interpreter.
Input (stdin, JSON): {"model", "images": [paths], "conf", "iou", "imgsz"}.
Output (stdout, JSON): {"version", "results": [{"file", "ms", "xyxy", "conf", "cls"}]}.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    request = json.load(sys.stdin)
    import cv2
    import ultralytics
    from ultralytics import YOLO

    model = YOLO(request["model"], task="detect")
    results = []
    for n, path in enumerate(request["images"]):
        image = cv2.imread(path)  # Ultralytics takes BGR arrays
        kwargs = {"conf": request["conf"], "iou": request["iou"], "imgsz": request["imgsz"], "verbose": False}
        if n == 0:
            model.predict(image, **kwargs)  # warm-up, as on our side
        start = time.perf_counter()
        boxes = model.predict(image, **kwargs)[0].boxes
        ms = 1000 * (time.perf_counter() - start)
        results.append(
            {
                "file": path,
                "ms": ms,
                "xyxy": boxes.xyxy.cpu().numpy().tolist(),
                "conf": boxes.conf.cpu().numpy().tolist(),
                "cls": boxes.cls.cpu().numpy().astype(int).tolist(),
            }
        )
    json.dump({"version": ultralytics.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
