"""File transfers the ACS asks for (Download, Upload, ScheduleDownload): a persistent queue
(``queue``), the wire (``fetch``: pycurl streaming to and from files) and what each file
type means to the device (``apply``: apply hooks and upload sources)."""

from .apply import ApplyHook, UploadSource, openwrt_hooks
from .fetch import WireOptions
from .queue import TransferConfig, TransferQueue

__all__ = ["ApplyHook", "TransferConfig", "TransferQueue", "UploadSource", "WireOptions",
           "openwrt_hooks"]
