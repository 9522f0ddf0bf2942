-- Reserved: the number before 0006_limits.sql. It changes nothing.
SELECT 1;
