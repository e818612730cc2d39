"""DownloadDiagnostics (TR-143 HTTP GET / FTP RETR), see :mod:`.transfer`."""

from icwmpy.diagnostics.transfer import measure


async def run(request):
    return await measure(request, "down", "TestBytesReceived")
