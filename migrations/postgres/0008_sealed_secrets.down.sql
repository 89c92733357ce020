-- The service has written every exit's URL back into url and unsealed the other secrets.
ALTER TABLE exits DROP COLUMN url_sealed;
