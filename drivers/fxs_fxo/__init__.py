"""Si3215 FXS and Si3050 FXO drivers, analog line state machines and their channel driver."""
