"""``python -m edgevlm.lab.raystart start …``: Ray's own ``ray start`` CLI, with 127.0.0.1 kept as 127.0.0.1
(see edgevlm.lab.rayenv.keep_loopback). Everything else is Ray's."""
import sys

from edgevlm.lab.rayenv import import_ray, keep_loopback

if __name__ == "__main__":
    import_ray()
    keep_loopback()
    from ray.scripts.scripts import main

    sys.argv[0] = "ray"
    main()
