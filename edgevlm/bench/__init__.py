"""Bench: deploy a bundle + model to a device, warm-up and N repetitions, raw samples, thermal gate."""
