"""UploadDiagnostics (TR-143 HTTP PUT / FTP STOR of TestFileLength bytes), see
:mod:`.transfer`."""

from icwmpy.diagnostics.transfer import measure


async def run(request):
    return await measure(request, "up", "TestBytesSent")
