"""Reading image files into one predictable form: upright 8-bit RGB."""
