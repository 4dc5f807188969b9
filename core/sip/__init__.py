"""The SIP stack: sans-IO message, transaction, dialog and registrar cores with thin asyncio transports."""
