"""The CPE side of every ACS request (TR-069 A.3.2, A.4.1): from a decoded Envelope to the
response or fault envelope, in the ACS's namespace, echoing its cwmp:ID.

Each method turns the codec's arguments into a call on the data model (run through
``services.run_model``, i.e. in the model's worker thread so a slow backend never blocks the
event loop), the transfer queue, the options or the agent, and the result back into the
response's arguments. Faults travel as :class:`CwmpFault` from wherever they arise; a
method the table lacks is 9000, and any other exception is a bug: logged, answered 9002.

Fault codes decided here (the rest come from the model, the queue and :mod:`.checks`):
ScheduleInform with DelaySeconds 0 is 9003 (A.4.1.2 asks for a positive delay); a method of
a later TR-069 Amendment than the configured one is 9000, as one the CPE lacks.
"""

import functools
import logging
from dataclasses import dataclass

from icwmpy.cwmp import soap
from icwmpy.cwmp.rpcs import RPCS
from icwmpy.faults import CwmpFault
from icwmpy.model.engine import Addressing
from icwmpy.rpc import checks

log = logging.getLogger(__name__)

# The schema caps GetQueuedTransfers / GetAllQueuedTransfers lists at 16 entries.
MAX_QUEUED = 16


# Alias-based addressing came with TR-069 Amendment 4 (CWMP 1.3).
ALIAS_AMENDMENT = 4
# An answer with more parameters than this is built off the event loop's thread.
BUILD_OFF_LOOP = 500


def _inside(name, partials):
    """Whether ``name`` lies in one of the partial paths ``partials`` (a set): one look-up
    per dot, so a long list of names costs no more than its length."""
    return any(name[: i + 1] in partials for i, c in enumerate(name) if c == ".")


def _concat(operation, fn, check, names, addressing, limit):
    """fn(name) for each name, results joined: one worker-thread hop and one model
    ``operation`` (one listing of each table) for a whole list.
    Each parameter is answered once: a name asked again, or inside a partial path asked
    before (``Device.DeviceInfo.`` after ``Device.``), is only checked (``check``: 9005 if
    it names nothing), so 400 x ``Device.`` walks the tree once. The whole answer holds at
    most ``limit`` items (fn stops at what is left: 9004). A parameter asked before the
    partial path that holds it keeps its first place and appears once."""
    out, partials = [], set()
    with operation(addressing):
        for name in dict.fromkeys(names):
            if _inside(name, partials):
                check(name, addressing)
                continue
            out += fn(name, addressing, limit - len(out))
            if name.endswith("."):
                partials.add(name)
    return list({item[0]: item for item in out}.values()) if partials else out


def amendment(method):
    """The TR-069 Amendment that introduced ``method``: namespace cwmp-1-<n> came with
    Amendment n+1 (cwmp-1-0 with Amendment 1, ..., cwmp-1-2 with Amendment 3)."""
    return RPCS[method].since + 1


@dataclass(frozen=True)
class Features:
    """What the CPE offers the ACS: ``amd_version`` (cwmp.cpe.amd_version) bounds the
    RPCs and alias-based addressing; ``instance_alias`` (InstanceMode InstanceAlias) and
    ``auto_create`` (AutoCreateInstances) only count from Amendment 4 on;
    ``max_parameters`` (cwmp.cpe.max_response_parameters) caps the parameters of one
    GetParameterValues, GetParameterNames or GetParameterAttributes answer (9004 beyond)."""

    amd_version: int = 5
    instance_alias: bool = False
    auto_create: bool = False
    max_parameters: int = 20000

    @property
    def addressing(self):
        aliases = self.amd_version >= ALIAS_AMENDMENT
        return Addressing(aliases=aliases, instance_alias=aliases and self.instance_alias,
                          auto_create=aliases and self.auto_create)


class RpcHandler:
    """Answers ACS requests for one CPE. ``model`` is its DataModel, ``services`` the
    Agent's side (see docs/architecture.md, "RPC methods"); ``features`` a
    :class:`Features`, replaced by the Agent when the configuration changes."""

    def __init__(self, model, services, features=Features()):
        self.model = model
        self.services = services
        self.features = features

    @property
    def methods(self):
        """The methods offered: the dispatch table up to the configured Amendment."""
        return [m for m in self.METHODS if amendment(m) <= self.features.amd_version]

    async def handle(self, envelope):
        """The answer (bytes) to one ACS request; never raises for what the ACS sent."""
        method = self.METHODS.get(envelope.method)
        try:
            if method is None or envelope.method not in self.methods:
                raise CwmpFault(9000, f"Method not supported: {envelope.method}")
            result = await method(self, envelope.args)
            build = functools.partial(soap.build, envelope.method + "Response", result,
                                      id=envelope.id, ns=envelope.ns)
            if len(result.get("ParameterList", ())) > BUILD_OFF_LOOP:
                return await self._model(build)   # off the loop's thread, as the parse
            return build()
        except CwmpFault as fault:
            return soap.build_fault(fault, id=envelope.id, ns=envelope.ns)
        except Exception:
            log.exception("%s failed", envelope.method)
            return soap.build_fault(CwmpFault(9002), id=envelope.id, ns=envelope.ns)

    async def _model(self, fn, *args):
        return await self.services.run_model(fn, *args)

    @property
    def _addressing(self):
        return self.features.addressing

    @property
    def _queue(self):
        return self.services.transfers

    # ------------------------------------------------------------ methods
    async def get_rpc_methods(self, args):
        return {"MethodList": self.methods}

    async def get_parameter_values(self, args):
        values = await self._model(_concat, self.model.operation, self.model.get_values,
                                   self.model.check,
                                   args["ParameterNames"], self._addressing,
                                   self.features.max_parameters)
        return {"ParameterList": values}

    async def get_parameter_names(self, args):
        names = await self._model(self.model.get_names, args["ParameterPath"],
                                  args["NextLevel"], self._addressing,
                                  self.features.max_parameters)
        return {"ParameterList": names}

    async def set_parameter_values(self, args):
        status = await self._model(self.model.set_values, args["ParameterList"],
                                   args["ParameterKey"], self._addressing)
        return {"Status": status}

    async def get_parameter_attributes(self, args):
        attributes = await self._model(_concat, self.model.operation,
                                       self.model.get_attributes, self.model.check,
                                       args["ParameterNames"], self._addressing,
                                       self.features.max_parameters)
        return {"ParameterList": attributes}

    async def set_parameter_attributes(self, args):
        """A change flag that is false means: leave that attribute as it is (A.3.2.4)."""
        items = [(a["Name"], a["Notification"] if a["NotificationChange"] else None,
                  a["AccessList"] if a["AccessListChange"] else None)
                 for a in args["ParameterList"]]
        await self._model(self.model.set_attributes, items, self._addressing)
        return {}

    async def add_object(self, args):
        number, status = await self._model(self.model.add_object, args["ObjectName"],
                                           args["ParameterKey"], self._addressing)
        return {"InstanceNumber": number, "Status": status}

    async def delete_object(self, args):
        status = await self._model(self.model.delete_object, args["ObjectName"],
                                   args["ParameterKey"], self._addressing)
        return {"Status": status}

    async def reboot(self, args):
        """The agent records "M Reboot" before this response goes out and reboots once the
        session has ended."""
        self.services.reboot(args["CommandKey"])
        return {}

    async def factory_reset(self, args):
        self.services.factory_reset()
        return {}

    async def schedule_inform(self, args):
        if args["DelaySeconds"] < 1:
            raise CwmpFault(9003, "Invalid arguments: DelaySeconds must be at least 1")
        self.services.schedule_inform(args["DelaySeconds"], args["CommandKey"])
        return {}

    async def download(self, args):
        checks.check_download(args)
        return self._transfer_result(self._queue.download(args))

    async def upload(self, args):
        checks.check_upload(args)
        return self._transfer_result(self._queue.upload(args))

    @staticmethod
    def _transfer_result(result):
        status, start, complete = result
        return {"Status": status, "StartTime": start, "CompleteTime": complete}

    async def schedule_download(self, args):
        checks.check_schedule_download(args)
        self._queue.schedule_download(args)
        return {}

    async def cancel_transfer(self, args):
        self._queue.cancel(args["CommandKey"])
        return {}

    async def get_queued_transfers(self, args):
        return {"TransferList": self._queue.queued()[:MAX_QUEUED]}

    async def get_all_queued_transfers(self, args):
        return {"TransferList": self._queue.all_queued()[:MAX_QUEUED]}

    async def change_du_state(self, args):
        checks.check_change_du_state(args)
        self._queue.change_du_state(args)
        return {}

    async def set_vouchers(self, args):
        # Through the worker thread: storing options fsyncs, which the loop must not wait on.
        await self._model(self.services.options.set_vouchers, args["VoucherList"])
        return {}

    async def get_options(self, args):
        options = await self._model(self.services.options.get_options, args["OptionName"])
        return {"OptionList": options}

    # The dispatch table, in TR-069's order; GetRPCMethods lists its keys up to the
    # configured Amendment.
    METHODS = {
        "GetRPCMethods": get_rpc_methods,
        "SetParameterValues": set_parameter_values,
        "GetParameterValues": get_parameter_values,
        "GetParameterNames": get_parameter_names,
        "SetParameterAttributes": set_parameter_attributes,
        "GetParameterAttributes": get_parameter_attributes,
        "AddObject": add_object,
        "DeleteObject": delete_object,
        "Reboot": reboot,
        "Download": download,
        "Upload": upload,
        "FactoryReset": factory_reset,
        "GetQueuedTransfers": get_queued_transfers,
        "GetAllQueuedTransfers": get_all_queued_transfers,
        "ScheduleInform": schedule_inform,
        "SetVouchers": set_vouchers,
        "GetOptions": get_options,
        "ScheduleDownload": schedule_download,
        "CancelTransfer": cancel_transfer,
        "ChangeDUState": change_du_state,
    }
