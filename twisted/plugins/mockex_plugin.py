from twisted.application.service import ServiceMaker

mockex = ServiceMaker(
    "mockex",
    "mockex.tap",
    "Serve mock crypto exchange market-data APIs (REST and WebSocket).",
    "mockex",
)
