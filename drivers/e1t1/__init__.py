"""E1/T1 framer driver, HDLC, ISDN PRI and MFC/R2, and the E1 channel driver."""
