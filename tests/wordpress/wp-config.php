<?php
// The test site's configuration; the test fills in the database and the address.
define('DB_NAME', '@DATABASE@');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', '127.0.0.1:3306');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
define('WP_HOME', 'http://@HOST@');
define('WP_SITEURL', 'http://@HOST@');
// Application passwords over plain http need a local environment.
define('WP_ENVIRONMENT_TYPE', 'local');
define('WP_CONTENT_DIR', '/usr/share/wordpress/wp-content');
// Uploads (the posts' cards) go to this site's own folder, served by `php -S` from it.
define('UPLOADS', 'uploads');
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('WP_DEBUG', false);
$table_prefix = 'wp_';
if (!defined('ABSPATH')) {
    define('ABSPATH', __DIR__ . '/');
}
require_once ABSPATH . 'wp-settings.php';
