"""Video clips: safe probing and one sequential decode (`decoding`), and picking the few most informative
frames of a clip in that one decode (`sampling`)."""
