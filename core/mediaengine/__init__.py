"""The media engine: RTP ports for channels, the media clock and the audio services of the dialplan
(:class:`MediaEngineImpl`, which implements :class:`core.media.MediaEngine`)."""

from core.mediaengine.engine import AudioPort, MediaClock, MediaEngineImpl
from core.mediaengine.port import FRAME_BYTES, FRAME_SAMPLES, RtpPort

__all__ = ["FRAME_BYTES", "FRAME_SAMPLES", "AudioPort", "MediaClock", "MediaEngineImpl", "RtpPort"]
