"""Card applications (APs) of the My Number card."""
