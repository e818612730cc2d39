"""SOAP messages in the forms real ACSs and CPEs send them, written here for the tests.

The facts come from the third-party captures (catawampus, Fullrate cwmp_ex, jdalberg/cwmp; see
``testdata.py``): prefixes, layouts, array forms, defects. The text is this project's own, so
every clone tests those forms; the captures themselves are parsed where the test data is found.
"""

NS12 = "urn:dslforum-org:cwmp-1-2"


def envelope(body, header="", soap_prefix="SOAP-ENV", enc_prefix="SOAP-ENC",
             ns="urn:dslforum-org:cwmp-1-0", attributes=""):
    """An envelope in the prefixes and layout real ACSs and CPEs use (not soap.build's)."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<{soap_prefix}:Envelope{attributes}\n'
            f'    xmlns:{soap_prefix}="http://schemas.xmlsoap.org/soap/envelope/"\n'
            f'    xmlns:{enc_prefix}="http://schemas.xmlsoap.org/soap/encoding/"\n'
            f'    xmlns:xsd="http://www.w3.org/2001/XMLSchema"\n'
            f'    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n'
            f'    xmlns:cwmp="{ns}">\n'
            f'  <{soap_prefix}:Header>\n'
            f'    <cwmp:ID {soap_prefix}:mustUnderstand="1">q-1</cwmp:ID>{header}\n'
            f'  </{soap_prefix}:Header>\n'
            f'  <{soap_prefix}:Body>\n{body}\n  </{soap_prefix}:Body>\n'
            f'</{soap_prefix}:Envelope>\n').encode()


def inform(current_time, oui="0C2A86", retry=0, array_length="2"):
    return envelope(f"""    <cwmp:Inform>
      <DeviceId><Manufacturer>Example</Manufacturer><OUI>{oui}</OUI>
        <ProductClass>Box</ProductClass><SerialNumber>SN1</SerialNumber></DeviceId>
      <Event SOAP-ENC:arrayType="cwmp:EventStruct[1]">
        <EventStruct><EventCode>2 PERIODIC</EventCode><CommandKey></CommandKey></EventStruct>
      </Event>
      <MaxEnvelopes>1</MaxEnvelopes>
      <CurrentTime>{current_time}</CurrentTime>
      <RetryCount>{retry}</RetryCount>
      <ParameterList SOAP-ENC:arrayType="cwmp:ParameterValueStruct[{array_length}]">
        <ParameterValueStruct><Name>InternetGatewayDevice.DeviceInfo.SpecVersion</Name>
          <Value xsi:type="xsd:string">1.0</Value></ParameterValueStruct>
        <ParameterValueStruct><Name>InternetGatewayDevice.DeviceInfo.ProvisioningCode</Name>
          <Value xsi:type="xsd:string"></Value></ParameterValueStruct>
      </ParameterList>
    </cwmp:Inform>""")


def acs_request(body):
    """A request as catawampus' ACS tests write it: on one line, soapenv, HoldRequests 0."""
    return (f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            f'xmlns:cwmp="{NS12}" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" '
            f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Header>'
            f'<cwmp:ID soapenv:mustUnderstand="1">q-1</cwmp:ID>'
            f"<cwmp:HoldRequests>0</cwmp:HoldRequests></soapenv:Header>"
            f"<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>").encode()


def _boolean_values(*names):
    return "".join(f'<ns2:ParameterValueStruct xmlns:ns2="{NS12}"><Name>{name}</Name><Value '
                   f'xmlns:xs="http://www.w3.org/2001/XMLSchema" xsi:type="xs:boolean">true'
                   f"</Value></ns2:ParameterValueStruct>" for name in names)


QUIRKS = {
    # Clark-notation arrayType claiming 1 item for 3 ns3:string items
    "clark_array_type": acs_request(
        '<cwmp:GetParameterValues><ParameterNames soapenc:arrayType="{urn:dslforum-org:cwmp-1-2}'
        'string[1]"><ns3:string xmlns="urn:dslforum-org:cwmp-1-2" xmlns:ns3="urn:dslforum-org:'
        'cwmp-1-2">A.b</ns3:string><ns3:string xmlns:ns3="urn:dslforum-org:cwmp-1-2">A.c'
        '</ns3:string><ns3:string xmlns:ns3="urn:dslforum-org:cwmp-1-2">A.d</ns3:string>'
        "</ParameterNames></cwmp:GetParameterValues>"),
    "get_rpc_methods": acs_request("<cwmp:GetRPCMethods></cwmp:GetRPCMethods>"),
    "reboot": acs_request("<cwmp:Reboot><CommandKey>reboot-key</CommandKey></cwmp:Reboot>"),
    # empty SuccessURL and FailureURL
    "download": acs_request(
        "<cwmp:Download><CommandKey>dl-key</CommandKey><FileType>1 Firmware Upgrade Image"
        "</FileType><URL>http://files.example/image</URL><Username>u</Username><Password>p"
        "</Password><FileSize>1234</FileSize><TargetFileName>image</TargetFileName>"
        "<DelaySeconds>30</DelaySeconds><SuccessURL/><FailureURL/></cwmp:Download>"),
    # ns2:ParameterValueStruct, no arrayType, xs:boolean with a local xs prefix
    "bad_set_parameter_values": acs_request(
        "<cwmp:SetParameterValues><ParameterList>"
        + _boolean_values("Bad.Type", "Bad.Value", "Sub.NoSuchParameter", "ReadOnly")
        + "</ParameterList><ParameterKey>k</ParameterKey></cwmp:SetParameterValues>"),
    # ns5:SetParameterAttributesStruct with redundant xmlns, an empty AccessList, indented
    "set_parameter_attributes": envelope("""<cwmp:SetParameterAttributes>
  <ParameterList>
   <ns5:SetParameterAttributesStruct xmlns:ns1="http://schemas.xmlsoap.org/soap/encoding/"
       xmlns:ns4="urn:dslforum-org:cwmp-1-0" xmlns:ns5="urn:dslforum-org:cwmp-1-2">
    <Name>ReadOnly</Name>
    <NotificationChange>true</NotificationChange>
    <Notification>4</Notification>
    <AccessListChange>false</AccessListChange>
    <AccessList/>
   </ns5:SetParameterAttributesStruct>
 </ParameterList>
 </cwmp:SetParameterAttributes>""",
        '<cwmp:HoldRequests soapenv:mustUnderstand="1">0</cwmp:HoldRequests>',
        "soapenv", "soapenc", NS12),
    # ns5:ParameterValueStruct with redundant xmlns, xsi:type in the SOAP-ENC namespace and
    # a local xs: prefix, HoldRequests 1 with mustUnderstand (Google's production ACS)
    "prefixed_structs": envelope("""<cwmp:SetParameterValues>
      <ParameterList soapenc:arrayType="cwmp:ParameterValueStruct[2]">
        <ns5:ParameterValueStruct xmlns:ns1="http://schemas.xmlsoap.org/soap/encoding/"
            xmlns:ns4="urn:dslforum-org:cwmp-1-0" xmlns:ns5="urn:dslforum-org:cwmp-1-2">
          <Name>A.Enable</Name>
          <Value xmlns:xs="http://www.w3.org/2001/XMLSchema" xsi:type="xs:boolean">true</Value>
        </ns5:ParameterValueStruct>
        <ns5:ParameterValueStruct xmlns:ns1="http://schemas.xmlsoap.org/soap/encoding/"
            xmlns:ns5="urn:dslforum-org:cwmp-1-2">
          <Name>A.Interval</Name>
          <Value xsi:type="ns1:unsignedInt">60</Value>
        </ns5:ParameterValueStruct>
      </ParameterList>
      <ParameterKey>InitConfig</ParameterKey>
    </cwmp:SetParameterValues>""",
        '<cwmp:HoldRequests soapenv:mustUnderstand="1">1</cwmp:HoldRequests>',
        "soapenv", "soapenc", NS12),
    # a TransferList element per transfer, "True" as a boolean
    "transfer_per_element": envelope("""<cwmp:GetAllQueuedTransfersResponse>
      <TransferList><CommandKey>k1</CommandKey><State>2</State><IsDownload>True</IsDownload>
        <FileType>1 Firmware Upgrade Image</FileType><FileSize>12</FileSize>
        <TargetFileName>a</TargetFileName></TransferList>
      <TransferList><CommandKey>k2</CommandKey><State>1</State><IsDownload>False</IsDownload>
        <FileType>1 Firmware Upgrade Image</FileType><FileSize>0</FileSize>
        <TargetFileName></TargetFileName></TransferList>
    </cwmp:GetAllQueuedTransfersResponse>""", soap_prefix="soap", enc_prefix="soap-enc", ns=NS12),
    # a CPE's malformed CurrentTime, lower-case OUI, a long retry count (a Fullrate device)
    "malformed_current_time": inform("2019-03-05T11:54::14", oui="00a859", retry=942),
    # a zone offset, and an arrayType length with leading zeros (a ZyXEL VMG)
    "zoned_current_time": inform("2016-01-30T13:20:27+01:00", array_length="0002"),
    # no zone at all, and encodingStyle on the envelope (a ZyXEL P-2601)
    "naive_current_time": inform("2015-01-19T23:08:24").replace(
        b"<SOAP-ENV:Envelope", b'<SOAP-ENV:Envelope '
        b'SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"', 1),
    # Operations and Results as arrays of structs, Fault wrapped in FaultStruct, UUIDs that
    # are no UUIDs, a voucher that is no voucher, MaxRetries -1 (jdalberg/cwmp's samples)
    "du_operations": envelope("""<cwmp:ChangeDUState><CommandKey>ck</CommandKey><Operations>
      <InstallOpStruct><URL>http://du.example/a</URL><UUID>u-1</UUID><Username>u</Username>
        <Password>p</Password><ExecutionEnvRef>env</ExecutionEnvRef></InstallOpStruct>
      <UpdateOpStruct><URL>http://du.example/a</URL><UUID>u-1</UUID><Username>u</Username>
        <Password>p</Password><Version>v2</Version></UpdateOpStruct>
      <UninstallOpStruct><URL>http://du.example/b</URL><UUID>u-2</UUID>
        <ExecutionEnvRef>env2</ExecutionEnvRef></UninstallOpStruct>
    </Operations></cwmp:ChangeDUState>"""),
    "du_results": envelope("""<cwmp:DUStateChangeComplete><CommandKey>ck</CommandKey>
      <Results SOAP-ENC:arrayType="cwmp:OpResultStruct[1]"><OpResultStruct>
        <UUID>u-1</UUID><DeploymentUnitRef>ref</DeploymentUnitRef><Version>v2</Version>
        <CurrentState>Installed</CurrentState><Resolved>1</Resolved>
        <ExecutionUnitRefList>a,b</ExecutionUnitRefList>
        <StartTime>2015-01-19T23:45:12+00:00</StartTime>
        <CompleteTime>2015-01-19T23:55:12+00:00</CompleteTime>
        <Fault><FaultStruct><FaultCode>0</FaultCode><FaultString></FaultString></FaultStruct>
        </Fault></OpResultStruct></Results></cwmp:DUStateChangeComplete>"""),
    "base64_array": envelope("""<cwmp:SetVouchers><VoucherList SOAP-ENC:arrayType="base64[1]">
      <base64>Vm91Y2hlcjE=</base64></VoucherList></cwmp:SetVouchers>"""),
    "negative_retries": envelope("""<cwmp:ScheduleDownload><CommandKey>ck</CommandKey>
      <FileType>1 Firmware Upgrade Image</FileType><URL>http://files.example/fw</URL>
      <Username>u</Username><Password>p</Password><FileSize>123</FileSize>
      <TargetFileName>fw</TargetFileName>
      <TimeWindowList SOAP-ENC:arrayType="cwmp:TimeWindowStruct[1]"><TimeWindowStruct>
        <WindowStart>5</WindowStart><WindowEnd>45</WindowEnd>
        <WindowMode>1 At Any Time</WindowMode><UserMessage>Update tonight?</UserMessage>
        <MaxRetries>-1</MaxRetries></TimeWindowStruct></TimeWindowList>
    </cwmp:ScheduleDownload>"""),
    # an unknown method with an argument; a CPE's fault in soap:Fault (catawampus)
    "unknown_method": acs_request("<cwmp:NoSuchMethod><NoSuchArgument/></cwmp:NoSuchMethod>"),
    "soap_fault": envelope("""<soap:Fault><faultcode>Client</faultcode>
      <faultstring>CWMP fault</faultstring><detail><cwmp:Fault><FaultCode>9005</FaultCode>
      <FaultString>No such parameter: Info</FaultString></cwmp:Fault></detail></soap:Fault>""",
                           soap_prefix="soap", ns=NS12),
    # a non-ASCII value with a newline in it, xs:integer
    "unicode_values": acs_request(
        f'<cwmp:SetParameterValues><ParameterList><ns2:ParameterValueStruct xmlns:ns2="{NS12}">'
        '<Name>S</Name><Value xmlns:xs="http://www.w3.org/2001/XMLSchema" xsi:type="xs:string">'
        '\u00b4\nX</Value></ns2:ParameterValueStruct><ns2:ParameterValueStruct xmlns:ns2="'
        f'{NS12}"><Name>I</Name><Value xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xsi:type="xs:integer">0</Value></ns2:ParameterValueStruct></ParameterList>'
        "<ParameterKey>k</ParameterKey></cwmp:SetParameterValues>"),
}
