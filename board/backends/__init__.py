"""HAL backends: ``sim`` (the simulated board) and ``linux`` (spidev, gpiod/RPi.GPIO, ALSA, /dev/watchdog).

Import a backend through :func:`board.hal.open_backend`, which imports its module only when asked for.
"""
