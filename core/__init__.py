"""The hardware-independent PBX: channels, the switch, events, dialplan, protocol stacks and services."""
