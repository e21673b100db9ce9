"""Accuracy metrics against ground truth: COCO box mAP and identity-clustering scores."""
