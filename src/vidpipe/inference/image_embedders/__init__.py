"""Image embedder implementations.

Build one with ``vidpipe.inference.image_embedder.create_image_embedder``.
"""

from vidpipe.inference.image_embedders.mobilenet import MobileNetEmbedder
from vidpipe.inference.image_embedders.openclip import OpenClipEmbedder

__all__ = ["MobileNetEmbedder", "OpenClipEmbedder"]
